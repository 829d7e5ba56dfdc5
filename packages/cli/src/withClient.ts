import { createTotpClient, type TotpClient } from "@totp-custody/client";
import type { Command } from "commander";
import { describeError } from "./describeError.js";
import { findDevMaterial } from "./findDevMaterial.js";
import { type ConnectionFlags, clientOptionsOf, resolveConnection } from "./resolveConnection.js";

/** What a command needs to talk to totp-core. */
export interface Session {
  client: TotpClient;
  /** The global --on-behalf-of, or "" (the client's own principal). */
  onBehalfOf: string;
}

interface GlobalOptions extends ConnectionFlags {
  onBehalfOf?: string;
}

/**
 * Runs `action` with a client connected as the global flags, the environment or `.dev/` say, closes it, and turns
 * any failure into a CliError that names the address it tried.
 */
export async function withClient<T>(command: Command, action: (session: Session) => Promise<T>): Promise<T> {
  const flags = command.optsWithGlobals<GlobalOptions>();
  const connection = resolveConnection(flags, process.env, () => findDevMaterial(process.cwd()));
  const client = createTotpClient(clientOptionsOf(connection));
  try {
    return await action({ client, onBehalfOf: flags.onBehalfOf ?? "" });
  } catch (err) {
    throw describeError(err, connection.address.value);
  } finally {
    client.close();
  }
}
