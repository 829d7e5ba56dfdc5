import { LabelInfo } from "@totp-custody/client";
import { Command } from "commander";
import { CliError } from "../CliError.js";
import { classifySeed } from "../classifySeed.js";
import { describeAccount, describeKind } from "../describeLabel.js";
import { ExitCode } from "../exitCodes.js";
import { givenSeedFlags, parseAlgorithm, parsePositiveInteger, type SeedFlags, seedSpec } from "../parseSeedFlags.js";
import { printJson } from "../printJson.js";
import { readSecretInput } from "../readSecretInput.js";
import { warnArgumentSecret } from "../warnArgumentSecret.js";
import { withClient } from "../withClient.js";

const SEED_PROMPT = "Seed, an otpauth:// URI or a base32 secret";

interface AddOptions extends SeedFlags {
  overwrite?: boolean;
  json?: boolean;
}

export function addCommand(): Command {
  return new Command("add")
    .description(
      "store a seed under a label; with - the seed is read from standard input (typed without echo in a " +
        "terminal), so it never lands in shell history",
    )
    .argument("<label>", "the label: a-z, 0-9, '.', '_', '-', up to 48 characters")
    .argument("<seed>", "an otpauth://totp/ URI, a base32 secret, or - to read either from standard input")
    .option("--algorithm <name>", "HMAC algorithm of a base32 secret: sha1 (default), sha256, sha512", parseAlgorithm)
    .option("--digits <n>", "code length of a base32 secret: 6 (default) or 8", parsePositiveInteger)
    .option("--period <seconds>", "time step of a base32 secret, 1 to 86400 (default 30)", parsePositiveInteger)
    .option("--issuer <name>", "issuer shown with a base32 secret's codes")
    .option("--account <name>", "account shown with a base32 secret's codes")
    .option("--steam", "a Steam Guard secret: 5-character codes")
    .option("--overwrite", "replace the seed if the label exists")
    .option("--json", "print the stored label's details as JSON")
    .action((label: string, seedArgument: string, options: AddOptions, command: Command) =>
      withClient(command, async ({ client, onBehalfOf }) => {
        if (seedArgument !== "-") warnArgumentSecret("seed");
        const text = seedArgument === "-" ? await readSecretInput(SEED_PROMPT) : seedArgument;
        const seed = classifySeed(text);
        const flags = givenSeedFlags(options);
        if (seed.kind === "uri" && flags.length > 0) {
          throw new CliError(
            `an otpauth URI carries its own parameters: drop ${flags.join(", ")} (they describe a base32 secret)`,
            ExitCode.usage,
          );
        }
        const { info } = await client.registerSeed({
          label,
          onBehalfOf,
          overwrite: options.overwrite ?? false,
          ...(seed.kind === "uri" ? { otpauthUri: seed.otpauthUri } : { spec: seedSpec(seed.secretBase32, options) }),
        });
        if (!info) throw new CliError("totp-core answered without the label's details", ExitCode.internal);
        if (options.json) {
          printJson(LabelInfo.toJSON(info));
        } else {
          const account = describeAccount(info);
          process.stdout.write(`stored ${info.label}${account ? ` (${account})` : ""}: ${describeKind(info)}\n`);
        }
      }),
    );
}
