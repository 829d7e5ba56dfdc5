import { GenerateCodeResponse } from "@totp-custody/client";
import { Command } from "commander";
import { printJson } from "../printJson.js";
import { watchCode } from "../watchCode.js";
import { withClient } from "../withClient.js";

export function codeCommand(): Command {
  return new Command("code")
    .description(
      "print the current code of a label; in a terminal, with a live countdown that rolls over to the next code " +
        "until Ctrl-C",
    )
    .argument("<label>", "the label")
    .option("--json", "print the whole answer (code, next code, time window, issuer, account) as JSON")
    .action((label: string, options: { json?: boolean }, command: Command) =>
      withClient(command, async ({ client, onBehalfOf }) => {
        const fetchCode = (signal?: AbortSignal) => client.generateCode({ label, onBehalfOf }, { signal });
        if (options.json) {
          printJson(GenerateCodeResponse.toJSON(await fetchCode()));
        } else if (process.stdout.isTTY) {
          const stop = new AbortController();
          const onInterrupt = () => stop.abort();
          process.once("SIGINT", onInterrupt);
          try {
            await watchCode(fetchCode, label, process.stdout, stop.signal);
          } finally {
            process.off("SIGINT", onInterrupt);
          }
        } else {
          // Piped: the code alone, for `$(totpctl code x)` and scripts; nothing a terminal would interpret.
          process.stdout.write(`${(await fetchCode()).code}\n`);
        }
      }),
    );
}
