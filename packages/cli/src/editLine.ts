/** The state of a line typed without echo: the text so far, and how typing ended, once it has. */
export interface LineState {
  text: string;
  ended?: "enter" | "cancel";
}

const CTRL_C = "\x03";
const CTRL_D = "\x04";
const CTRL_U = "\x15";
const BACKSPACES = new Set(["\x7f", "\b"]);

/**
 * Applies one chunk of raw terminal input to a hidden line: Enter (or Ctrl-D) ends it, Ctrl-C cancels,
 * Backspace and Ctrl-U edit; escape sequences (arrow keys) and other control characters are dropped, as they
 * cannot be part of a seed. A paste arrives as one chunk, possibly ending with its newline.
 */
export function editLine(state: LineState, chunk: string): LineState {
  let text = state.text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what starts the sequences this removes.
  const withoutEscapes = chunk.replace(/\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)?/gs, "");
  for (const char of withoutEscapes) {
    if (char === "\r" || char === "\n" || char === CTRL_D) return { text, ended: "enter" };
    if (char === CTRL_C) return { text: "", ended: "cancel" };
    if (char === CTRL_U) text = "";
    else if (BACKSPACES.has(char)) text = [...text].slice(0, -1).join("");
    else if (char >= " ") text += char;
  }
  return { text };
}
