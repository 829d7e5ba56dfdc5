import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../src/CliError.js";
import { clientAddress } from "../src/devLayout.js";
import { ExitCode } from "../src/exitCodes.js";
import { findDevMaterial } from "../src/findDevMaterial.js";
import { clientOptionsOf, type DevMaterial, resolveConnection } from "../src/resolveConnection.js";

const DEV: DevMaterial = {
  address: "127.0.0.1:9443",
  ca: "/dev/ca.crt",
  cert: "/dev/admin.crt",
  key: "/dev/admin.key",
};
const ENV = { TOTP_ADDR: "core:8443", TOTP_TLS_CA: "/env/ca", TOTP_TLS_CERT: "/env/cert", TOTP_TLS_KEY: "/env/key" };

function failure(run: () => unknown): CliError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error("expected a CliError");
}

describe("resolveConnection", () => {
  it("takes each setting from its flag, else the environment, else .dev/", () => {
    const connection = resolveConnection({ cert: "/flag/cert" }, { TOTP_ADDR: "core:8443" }, () => DEV);
    expect(connection.address).toEqual({ value: "core:8443", from: "TOTP_ADDR", what: "totp-core's address" });
    expect(connection.cert).toMatchObject({ value: "/flag/cert", from: "--cert" });
    expect(connection.ca).toMatchObject({ value: DEV.ca, from: ".dev/" });
    expect(connection.key).toMatchObject({ value: DEV.key, from: ".dev/" });
  });

  it("never looks for .dev/ when flags and environment say everything", () => {
    const connection = resolveConnection({ addr: "other:1" }, { ...ENV, TOTP_SERVER_NAME: "core" }, () => {
      throw new Error("looked for .dev/");
    });
    expect(connection.address.value).toBe("other:1");
    expect(connection.serverName).toBe("core");
  });

  it("names the flag and the variable of a missing setting, as a usage error", () => {
    const err = failure(() => resolveConnection({}, {}, () => undefined));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toBe(
      "totp-core's address is not set: pass --addr or set TOTP_ADDR (or run npm start in the checkout first)",
    );
  });

  it("says which file it cannot read and where that name came from", () => {
    const connection = resolveConnection({}, { ...ENV, TOTP_TLS_CERT: "/nonexistent/client.crt" }, () => undefined);
    const err = failure(() => clientOptionsOf(connection));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toMatch(/^cannot read the (CA|client) certificate \/.* \(from TOTP_TLS_\w+\): ENOENT$/);
  });
});

describe("findDevMaterial", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "totpctl-dev-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("finds the nearest .dev/ with an admin certificate above the working directory, with its address", async () => {
    const checkout = join(root, "checkout");
    const dev = join(checkout, ".dev");
    await mkdir(join(checkout, "packages", "cli"), { recursive: true });
    await mkdir(dev, { mode: 0o700 });
    expect(findDevMaterial(join(checkout, "packages", "cli"))).toBeUndefined();

    await writeFile(join(dev, "admin.crt"), "");
    expect(findDevMaterial(join(checkout, "packages", "cli"))).toEqual({
      address: "127.0.0.1:8443",
      ca: join(dev, "ca.crt"),
      cert: join(dev, "admin.crt"),
      key: join(dev, "admin.key"),
    });
    await writeFile(join(dev, "address"), "127.0.0.1:9443\n");
    expect(findDevMaterial(checkout)?.address).toBe("127.0.0.1:9443");
  });

  it("refuses a .dev/ that others may write to: its certificates could send seeds anywhere", async () => {
    const dev = join(root, "shared", ".dev");
    await mkdir(dev, { recursive: true });
    await writeFile(join(dev, "admin.crt"), "");
    await chmod(dev, 0o777);
    const err = failure(() => findDevMaterial(join(root, "shared")));
    expect(err.message).toMatch(/is not owned by you alone/);
  });
});

describe("clientAddress", () => {
  it("dials loopback for a wildcard listen address, and the address itself otherwise", () => {
    expect(clientAddress("0.0.0.0:8443")).toBe("127.0.0.1:8443");
    expect(clientAddress("[::]:9443")).toBe("127.0.0.1:9443");
    expect(clientAddress("127.0.0.1:8443")).toBe("127.0.0.1:8443");
    expect(clientAddress("localhost:7000")).toBe("localhost:7000");
  });
});
