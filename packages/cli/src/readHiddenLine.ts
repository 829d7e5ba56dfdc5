import type { ReadStream } from "node:tty";
import { CliError } from "./CliError.js";
import { editLine, type LineState } from "./editLine.js";
import { ExitCode } from "./exitCodes.js";

/**
 * Reads one line from a terminal without echoing it: the terminal goes to raw mode, so the seed appears neither on
 * screen nor in the scrollback (nor, being no argument, in shell history). Ctrl-C cancels with a usage exit.
 */
export function readHiddenLine(input: ReadStream, prompt: string, output: NodeJS.WritableStream): Promise<string> {
  // Echo goes off before the prompt shows: a seed typed or pasted the moment the prompt appears must not echo.
  input.setRawMode(true);
  input.setEncoding("utf8");
  output.write(prompt);
  return new Promise<string>((resolve, reject) => {
    let state: LineState = { text: "" };
    const onData = (chunk: string) => {
      state = editLine(state, chunk);
      if (!state.ended) return;
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
      if (state.ended === "cancel") reject(new CliError("cancelled", ExitCode.usage));
      else resolve(state.text);
    };
    input.on("data", onData);
    input.resume();
  });
}
