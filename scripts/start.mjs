#!/usr/bin/env node
// `npm start`: the embedded default for a first run. Creates once, under the ignored .dev/ folder, a development
// CA and certificates, a file-store key and a development policy; then runs totp-core on the encrypted file store
// (.dev/seeds.enc), or on Vault when VAULT_ADDR is set, and says how to use it with `npx totpctl`. A second start
// reuses everything, seeds included. Ctrl-C (or SIGTERM) stops totp-core cleanly.
//
// Plain Node ESM on the built workspace packages: `npm start` builds before it runs this.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { clientAddress, DEV_CLIENTS, DEV_DIR_NAME, devFiles, devPolicyYaml, writeDevCerts } from "@totp-custody/cli";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const devDir = join(root, DEV_DIR_NAME);
const files = devFiles(devDir);
const coreMain = join(root, "services", "totp-core", "dist", "main.js");
const show = (file) => relative(process.cwd(), file) || file;

/** Creates what is missing; never replaces anything, so seeds and the certificates handed out stay valid. */
async function ensureMaterial() {
  await mkdir(devDir, { recursive: true, mode: 0o700 });
  const created = [];
  const certificates = [files.ca, files.coreCert, files.coreKey, ...DEV_CLIENTS.flatMap((n) => certFiles(n))];
  const missing = certificates.filter((file) => !existsSync(file));
  if (missing.length === certificates.length) {
    await writeDevCerts(devDir);
    created.push("a development CA and certificates");
  } else if (missing.length > 0) {
    throw new Error(
      `${show(missing[0])} is missing: run \`npx totpctl dev-certs ${show(devDir)} --force\` to make a new CA and ` +
        "certificates (seeds are kept)",
    );
  }
  if (!existsSync(files.fileKey)) {
    // A new key cannot read seeds written with a lost one; totp-core would refuse to start, so say why here.
    if (existsSync(files.seeds)) {
      throw new Error(
        `${show(files.seeds)} exists but ${show(files.fileKey)} is missing: restore the key, or move the seeds ` +
          "file away to start empty",
      );
    }
    await writeFile(files.fileKey, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    created.push("a file-store key");
  }
  if (!existsSync(files.policy)) {
    await writeFile(files.policy, devPolicyYaml(), { flag: "wx" });
    created.push("a development policy");
  }
  return created;
}

function certFiles(name) {
  return [join(devDir, `${name}.crt`), join(devDir, `${name}.key`)];
}

/** totp-core's environment: the user's, with the development material; the user's TOTP_LISTEN and Vault win. */
function coreEnvironment(listen) {
  const env = {
    ...process.env,
    TOTP_LISTEN: listen,
    TOTP_TLS_CERT: files.coreCert,
    TOTP_TLS_KEY: files.coreKey,
    TOTP_TLS_CA: files.ca,
    TOTP_POLICY_FILE: files.policy,
    // Audit lines would drown the terminal; the file keeps them (verify with totp-audit-verify).
    TOTP_AUDIT_FILE: process.env.TOTP_AUDIT_FILE || files.auditLog,
  };
  if (!process.env.VAULT_ADDR) {
    Object.assign(env, { TOTP_STORE: "file", TOTP_FILE_PATH: files.seeds, TOTP_FILE_KEY_FILE: files.fileKey });
    // totp-core refuses a key given twice; the one in .dev/ is the one that encrypted .dev/seeds.enc.
    delete env.TOTP_FILE_KEY;
  }
  return env;
}

/** One pino line as `totp-core  INFO  message {fields}`; anything else as it came. */
function formatLogLine(line, name = "totp-core") {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return `${name}  ${line}`;
  }
  const levels = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
  const { level, msg, time: _time, pid: _pid, hostname: _hostname, service: _service, ...fields } = entry;
  // A stack trace helps nobody at a first run; the error's message says what went wrong.
  if (fields.err?.message) fields.err = fields.err.message;
  const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
  return `${name}  ${(levels[level] ?? String(level)).padEnd(5)}  ${msg ?? ""}${rest}`;
}

/** The bots `npm start` runs next to the core, each when one of its own variables is set. */
const BOTS = [
  { name: "telegram-bot", variables: ["TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN_FILE"] },
  // Any of these starts the Zulip bot, which then names what else it needs (exit 2) if something is missing.
  { name: "zulip-bot", variables: ["ZULIP_REALM", "ZULIP_EMAIL", "ZULIP_API_KEY", "ZULIP_API_KEY_FILE", "ZULIP_RC"] },
];

/**
 * A bot next to the core: the user's variables, the core's address and the development certificate
 * `totpctl dev-certs` made for it. Its log lines are printed like the core's.
 */
function startBot({ name }, address) {
  const [cert, key] = certFiles(name);
  const env = { ...process.env, TOTP_ADDR: address, TOTP_TLS_CERT: cert, TOTP_TLS_KEY: key, TOTP_TLS_CA: files.ca };
  const main = join(root, "services", name, "dist", "main.js");
  const bot = spawn(process.execPath, [main], { env, stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [bot.stdout, bot.stderr]) {
    createInterface({ input: stream }).on("line", (line) => console.log(formatLogLine(line, name)));
  }
  bot.on("close", (code, signal) => console.log(`${name} exited (${signal ?? `code ${code}`})`));
  process.on("exit", () => bot.kill("SIGKILL"));
  return bot;
}

function banner(address, store) {
  const where = store === "file" ? `encrypted file ${show(files.seeds)}` : `${store} at ${process.env.VAULT_ADDR}`;
  return `
totp-core is ready on ${address} (store: ${where}). Ctrl-C stops it.

In another terminal, anywhere in this checkout (totpctl finds ${show(devDir)}/ and acts as its admin client):
  npx totpctl add demo -     then paste an otpauth:// URI or a base32 secret (hidden) and press Enter
  npx totpctl code demo      the current code, with a countdown until Ctrl-C
  npx totpctl ls             your labels; npx totpctl --help for everything else
`;
}

async function main() {
  const created = await ensureMaterial();
  console.log(
    created.length > 0
      ? `created in ${show(devDir)}/: ${created.join(", ")}`
      : `reusing ${show(devDir)}/ (certificates, key, policy and seeds from before)`,
  );

  const listen = process.env.TOTP_LISTEN || "127.0.0.1:8443";
  const address = clientAddress(listen);
  // totpctl reads the address from here, so a TOTP_LISTEN override needs no flag on the client side.
  await writeFile(files.address, `${address}\n`);

  const core = spawn(process.execPath, [coreMain], { env: coreEnvironment(listen), stdio: ["ignore", "pipe", "pipe"] });
  // "close", not "exit": its last log lines are printed before this script reports the end.
  const exited = new Promise((done) => core.on("close", (code, signal) => done({ code, signal })));
  let ready = false;
  let portTaken = false;
  let bots = [];
  for (const stream of [core.stdout, core.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      console.log(formatLogLine(line));
      // totp-core names the variable and the address it could not bind (see startStep in its config.ts).
      portTaken ||= line.includes("TOTP_LISTEN:") && line.includes("is already in use");
      if (!ready && line.includes('"msg":"totp-core ready"')) {
        ready = true;
        const store = JSON.parse(line).store;
        console.log(banner(address, store));
        bots = BOTS.filter((bot) => bot.variables.some((name) => process.env[name])).map((bot) =>
          startBot(bot, address),
        );
      }
    });
  }

  let stopping = false;
  const stop = () => {
    // A second Ctrl-C means now.
    core.kill(stopping ? "SIGKILL" : "SIGTERM");
    for (const bot of bots) bot.kill(stopping ? "SIGKILL" : "SIGTERM");
    stopping = true;
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // A closed terminal: totp-core takes SIGHUP as "reopen the audit file", so it must be told to stop.
  process.on("SIGHUP", stop);
  // Whatever ends this process must not leave totp-core holding the port.
  process.on("exit", () => core.kill("SIGKILL"));

  const { code, signal } = await exited;
  if (stopping) {
    console.log("totp-core stopped");
    return 0;
  }
  console.error(`totp-core exited (${signal ?? `code ${code}`})${ready ? "" : " before it was ready: see above"}`);
  if (portTaken) console.error(`${listen} is taken: run with another, e.g. TOTP_LISTEN=127.0.0.1:9443 npm start`);
  return code || 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`npm start: ${err.message}`);
    process.exitCode = 1;
  },
);
