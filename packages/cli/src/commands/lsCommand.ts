import { LabelInfo } from "@totp-custody/client";
import { Command } from "commander";
import { LABEL_TABLE_HEADER, labelRow } from "../describeLabel.js";
import { formatTable } from "../formatTable.js";
import { printJson } from "../printJson.js";
import { withClient } from "../withClient.js";

export function lsCommand(): Command {
  return new Command("ls")
    .description("list the labels you may read (a table in a terminal, one label per line when piped)")
    .option("--json", "print every label's details as a JSON array")
    .action((options: { json?: boolean }, command: Command) =>
      withClient(command, async ({ client, onBehalfOf }) => {
        const labels: LabelInfo[] = [];
        let pageToken = "";
        do {
          const page = await client.listLabels({ onBehalfOf, pageSize: 1000, pageToken });
          labels.push(...page.labels);
          pageToken = page.nextPageToken;
        } while (pageToken !== "");

        if (options.json) {
          printJson(labels.map((info) => LabelInfo.toJSON(info)));
        } else if (process.stdout.isTTY) {
          process.stdout.write(
            labels.length === 0
              ? "No labels yet: add one with `totpctl add <label> -`.\n"
              : `${formatTable(LABEL_TABLE_HEADER, labels.map(labelRow))}\n`,
          );
        } else {
          process.stdout.write(labels.map((info) => `${info.label}\n`).join(""));
        }
      }),
    );
}
