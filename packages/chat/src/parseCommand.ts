/**
 * A command of the core's grammar, from the text a user wrote once the adapter removed its own syntax (Telegram's
 * `/` and `@BotName`, Zulip's `@**Bot**` mention). Arguments are kept as written: labels are checked later, so an
 * invalid one gets its reason, and a seed keeps its spaces (totp-core tolerates them).
 */
export type ChatCommand =
  | { kind: "start" }
  | { kind: "help" }
  | { kind: "whoami" }
  | { kind: "list" }
  | { kind: "code"; label: string }
  | { kind: "add"; label: string; seed: string }
  | { kind: "import"; uri: string }
  | { kind: "remove"; label: string; confirmed: boolean }
  /** A word in command position that is no command. It is not kept: it may be a seed sent by mistake. */
  | { kind: "unknown" }
  /** Anything else: empty text, or text that does not start with a word. */
  | { kind: "text" };

const WORD = /^[a-z][a-z0-9_-]*$/i;

/** The first word (case-insensitive) and the rest, trimmed. */
function splitFirst(text: string): [string, string] {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  return match ? [match[1] as string, (match[2] as string).trim()] : ["", ""];
}

export function parseCommand(text: string): ChatCommand {
  const [first, rest] = splitFirst(text);
  if (!WORD.test(first)) return { kind: "text" };
  switch (first.toLowerCase()) {
    case "start":
      return { kind: "start" };
    case "help":
      return { kind: "help" };
    case "whoami":
      return { kind: "whoami" };
    case "list":
      return { kind: "list" };
    case "code":
      return { kind: "code", label: rest };
    case "add": {
      const [label, seed] = splitFirst(rest);
      return { kind: "add", label, seed };
    }
    case "import":
      return { kind: "import", uri: rest };
    case "remove": {
      const [label, after] = splitFirst(rest);
      const confirmed = after.toLowerCase() === "confirm";
      // Anything else after the label belongs to it, so the label check explains what is wrong.
      return { kind: "remove", label: confirmed || after === "" ? label : rest, confirmed };
    }
    default:
      return { kind: "unknown" };
  }
}
