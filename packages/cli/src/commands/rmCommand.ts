import { Command } from "commander";
import { CliError } from "../CliError.js";
import { confirm } from "../confirm.js";
import { ExitCode } from "../exitCodes.js";
import { withClient } from "../withClient.js";

export function rmCommand(): Command {
  return new Command("rm")
    .description("delete a label and its seed (asks first in a terminal)")
    .argument("<label>", "the label")
    .option("-y, --yes", "do not ask; required when standard input is not a terminal")
    .action((label: string, options: { yes?: boolean }, command: Command) =>
      withClient(command, async ({ client, onBehalfOf }) => {
        if (!options.yes) {
          // Without a terminal nobody can answer; deleting a seed silently from a script is what --yes is for.
          if (!process.stdin.isTTY) {
            throw new CliError("rm asks for confirmation: pass --yes when not in a terminal", ExitCode.usage);
          }
          if (!(await confirm(`Delete ${label} and its seed from totp-core?`))) {
            throw new CliError(`${label} was not deleted`, ExitCode.usage);
          }
        }
        const { label: removed } = await client.deleteSeed({ label, onBehalfOf });
        process.stdout.write(`deleted ${removed}\n`);
      }),
    );
}
