#!/usr/bin/env node
// The `totp-audit-verify` bin, checked in and executable: npm links bins at install time, before a fresh clone has
// built dist/, and skips a bin whose file is missing, so `npx totp-audit-verify` would ask the registry instead.
import("../dist/bin/audit-verify.js").catch((err) => {
  // Only our own entry point missing means "not built"; a missing dependency is a broken install, shown as is.
  if (err?.code !== "ERR_MODULE_NOT_FOUND" || !String(err.message).includes("/dist/bin/audit-verify.js")) throw err;
  process.stderr.write("totp-audit-verify: cannot run: not built yet: run `npm run build` in the checkout first\n");
  // 2, as for any failure to run: 1 would read as a broken chain.
  process.exitCode = 2;
});
