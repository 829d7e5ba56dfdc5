import { runCli } from "./runCli.js";

// Node warns (DEP0123) when grpc-js sets a TLS server name to an IP address such as 127.0.0.1; a CLI's stderr is
// for its own one-line errors, and the warning is about Node's future, not the user's command.
process.noDeprecation = true;

process.exitCode = await runCli(process.argv);
