import { ImportSeedsResponse } from "@totp-custody/client";
import { Command } from "commander";
import { CliError } from "../CliError.js";
import { describeAccount } from "../describeLabel.js";
import { ExitCode } from "../exitCodes.js";
import { printJson } from "../printJson.js";
import { readSecretInput } from "../readSecretInput.js";
import { warnArgumentSecret } from "../warnArgumentSecret.js";
import { withClient } from "../withClient.js";

const URI_PROMPT = "Export URI, otpauth-migration://offline?data=...";

interface ImportOptions {
  prefix?: string;
  overwrite?: boolean;
  json?: boolean;
}

/** One line per imported label and per refused entry; the refusals name the entry as the authenticator app did. */
function formatReport(report: ImportSeedsResponse): string {
  const imported = report.imported.map((info) => {
    const account = describeAccount(info);
    return `imported ${info.label}${account ? ` (${account})` : ""}\n`;
  });
  const refused = report.rejected.map(
    (r) => `refused entry ${r.index + 1}${r.name ? ` (${r.name})` : ""}: ${r.reason}\n`,
  );
  return [...imported, ...refused].join("");
}

export function importCommand(): Command {
  return new Command("import")
    .description(
      "store every entry of a Google Authenticator export (otpauth-migration://offline?data=...); " +
        "entries totp-core cannot serve are refused one by one",
    )
    .argument("<uri>", "the export URI, or - to read it from standard input (without echo in a terminal)")
    .option("--prefix <text>", "prepended to each label made from an entry's issuer and account")
    .option("--overwrite", "replace labels that exist instead of refusing those entries")
    .option("--json", "print the whole answer (imported labels, refused entries) as JSON")
    .action((uriArgument: string, options: ImportOptions, command: Command) =>
      withClient(command, async ({ client, onBehalfOf }) => {
        if (uriArgument !== "-") warnArgumentSecret("export URI");
        const uri = (uriArgument === "-" ? await readSecretInput(URI_PROMPT) : uriArgument).trim();
        const report = await client.importSeeds({
          uri,
          onBehalfOf,
          labelPrefix: options.prefix ?? "",
          overwrite: options.overwrite ?? false,
        });
        if (options.json) printJson(ImportSeedsResponse.toJSON(report));
        else process.stdout.write(formatReport(report));
        if (report.rejected.length > 0) {
          const total = report.imported.length + report.rejected.length;
          throw new CliError(`${report.rejected.length} of ${total} entries were not imported`, ExitCode.invalid);
        }
      }),
    );
}
