import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { addCommand } from "./commands/addCommand.js";
import { codeCommand } from "./commands/codeCommand.js";
import { devCertsCommand } from "./commands/devCertsCommand.js";
import { importCommand } from "./commands/importCommand.js";
import { lsCommand } from "./commands/lsCommand.js";
import { rmCommand } from "./commands/rmCommand.js";
import { describeError } from "./describeError.js";
import { ExitCode } from "./exitCodes.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const MORE_HELP = `
Connection: each of --addr, --ca, --cert and --key falls back to TOTP_ADDR, TOTP_TLS_CA, TOTP_TLS_CERT and
TOTP_TLS_KEY, then to the .dev/ folder that \`npm start\` made in this checkout (as the admin client).

Exit codes: 0 ok, 1 usage or cancelled, 2 not found or permission denied, 3 totp-core unavailable or TLS refused,
4 invalid input or already exists (or an import refused entries), 5 rate limited, 6 unexpected error.`;

export function createProgram(): Command {
  const program = new Command("totpctl")
    .description("Manage TOTP seeds in totp-core and read codes, over mutual TLS. Seeds go in; only codes come out.")
    .version(version)
    .option("--addr <host:port>", "totp-core's address")
    .option("--ca <file>", "the CA certificate that signed totp-core's certificate (PEM)")
    .option("--cert <file>", "this client's certificate (PEM); its URI SAN is the identity the policy knows")
    .option("--key <file>", "this client's private key (PEM)")
    .option("--on-behalf-of <principal>", "act for a principal such as telegram:123 (clients with actsFor only)")
    .addHelpText("after", MORE_HELP)
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError()
    // Errors are printed once, by runCli, as one line; commander would print its own and exit by itself.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const command of [codeCommand(), lsCommand(), addCommand(), importCommand(), rmCommand(), devCertsCommand()]) {
    // Subcommands made apart from the program inherit its error handling and help layout only when told to.
    program.addCommand(command.copyInheritedSettings(program));
  }
  return program;
}

/** Runs totpctl on `argv` (node's, with the executable and script first) and answers the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    // --help and --version end parsing with a CommanderError of exit code 0.
    if (err instanceof CommanderError && err.exitCode === 0) return ExitCode.ok;
    const failure = describeError(err);
    process.stderr.write(`totpctl: ${failure.message}\n`);
    return failure.exitCode;
  }
}
