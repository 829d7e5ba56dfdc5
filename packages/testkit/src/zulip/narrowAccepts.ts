import { invalidArgument } from "./ZulipApiError.js";

export interface NarrowTerm {
  operator: string;
  operand: string;
  negated: boolean;
}

/** What a narrow looks at in a message, for one receiving user. */
export interface NarrowSubject {
  type: "private" | "stream";
  stream?: string;
  topic?: string;
  sender: { id: number; email: string };
  /** DM participants (sender included); empty for a stream message. */
  participants: { id: number; email: string }[];
  /** The receiving user's flags on it (e.g. "mentioned"). */
  flags: string[];
}

const OPERATORS = new Set(["is", "stream", "channel", "topic", "sender", "dm", "pm-with"]);
const IS_OPERANDS = new Set(["dm", "private", "mentioned", "starred", "unread", "alerted"]);

/** The `narrow` parameter of /register: `[[operator, operand], …]` or `[{operator, operand, negated}, …]`. */
export function parseNarrow(raw: string | undefined): NarrowTerm[] {
  if (raw === undefined || raw === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalidArgument("narrow");
  }
  if (!Array.isArray(value)) throw invalidArgument("narrow", "is not a list");
  return value.map((term): NarrowTerm => {
    const [operator, operand, negated] = Array.isArray(term)
      ? [term[0], term[1], false]
      : [term?.operator, term?.operand, term?.negated === true];
    if (typeof operator !== "string" || (typeof operand !== "string" && typeof operand !== "number")) {
      throw invalidArgument("narrow", "is not a valid narrow");
    }
    if (!OPERATORS.has(operator)) throw invalidArgument("narrow", `has an unknown operator '${operator}'`);
    if (operator === "is" && !IS_OPERANDS.has(String(operand))) {
      throw invalidArgument("narrow", `has an unknown operand '${operand}' for 'is'`);
    }
    return { operator, operand: String(operand), negated };
  });
}

/** Whether a message passes every term of the narrow: terms combine with AND, as Zulip's event filter does. */
export function narrowAccepts(narrow: NarrowTerm[], message: NarrowSubject): boolean {
  return narrow.every((term) => termHolds(term, message) !== term.negated);
}

function termHolds(term: NarrowTerm, message: NarrowSubject): boolean {
  const operand = term.operand;
  switch (term.operator) {
    case "is":
      if (operand === "dm" || operand === "private") return message.type === "private";
      if (operand === "mentioned") {
        return message.flags.includes("mentioned") || message.flags.includes("wildcard_mentioned");
      }
      if (operand === "starred") return message.flags.includes("starred");
      if (operand === "alerted") return message.flags.includes("has_alert_word");
      return !message.flags.includes("read");
    case "stream":
    case "channel":
      return message.type === "stream" && sameName(message.stream, operand);
    case "topic":
      return message.type === "stream" && sameName(message.topic, operand);
    case "sender":
      return matchesUser(message.sender, operand);
    default: {
      // dm / pm-with: a DM in which every listed user takes part.
      if (message.type !== "private") return false;
      const listed = operand.split(",").map((s) => s.trim());
      return listed.every((who) => message.participants.some((p) => matchesUser(p, who)));
    }
  }
}

function matchesUser(user: { id: number; email: string }, who: string): boolean {
  return String(user.id) === who || user.email.toLowerCase() === who.toLowerCase();
}

// Zulip matches stream and topic names case-insensitively.
function sameName(actual: string | undefined, wanted: string): boolean {
  return actual !== undefined && actual.toLowerCase() === wanted.toLowerCase();
}
