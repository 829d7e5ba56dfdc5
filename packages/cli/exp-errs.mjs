import { makeTestPki, startTotpCore, freePort } from "@totp-custody/testkit";
import { createTotpClient } from "@totp-custody/client";
const pki = await makeTestPki(["admin", "stranger"]);
const core = await startTotpCore({ pki, policy: "clients:\n  spiffe://totp.internal/admin: { principal: service:admin, admin: true }\nselfService: true\n" });
const show = async (name, opts) => {
  const c = createTotpClient({ maxAttempts: 1, ...opts });
  try { await c.listLabels({}); console.log(name, "ok"); } catch (e) { console.log(name, e.codeName, JSON.stringify(e.message)); }
  c.close();
};
const base = core.clientOptions("admin");
await show("ok", base);
await show("stranger", core.clientOptions("stranger"));
await show("foreign-cert", { ...base, cert: pki.foreign.certPem, key: pki.foreign.keyPem });
await show("expired-cert", { ...base, cert: pki.expired.certPem, key: pki.expired.keyPem });
const { readFileSync } = await import("node:fs");
await show("wrong-ca", { ...base, ca: readFileSync(pki.foreignCaPath) });
await show("down", { ...base, address: `127.0.0.1:${await freePort()}` });
await show("badhost", { ...base, address: `nosuchhost.invalid:443` });
await show("badname", { ...base, address: `127.0.0.1:${core.port}`, serverName: "other" });
try { const c = createTotpClient({ ...base, maxAttempts: 1 }); await c.generateCode({ label: "nope" }); } catch (e) { console.log("nf", e.codeName, e.message); }
try { const c = createTotpClient({ ...base, maxAttempts: 1 }); await c.registerSeed({ label: "x", otpauthUri: "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP" }); } catch (e) { console.log("bad", e.codeName, e.message); }
try { const c = createTotpClient({ ...base, maxAttempts: 1 }); await c.registerSeed({ label: "x", otpauthUri: "http://x" }); } catch (e) { console.log("bad", e.codeName, e.message); }
try { const c = createTotpClient({ ...base, maxAttempts: 1 }); await c.importSeeds({ uri: "otpauth-migration://offline?data=zzz" }); } catch (e) { console.log("bad", e.codeName, e.message); }
try { const c = createTotpClient({ ...base, maxAttempts: 1 }); await c.listLabels({onBehalfOf: "telegram:1"}); } catch (e) { console.log("obo", e.codeName, e.message); }
await core.stop(); await pki.cleanup();
