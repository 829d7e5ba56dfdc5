#!/usr/bin/env node
// The `totpctl` bin, checked in and executable: npm links bins at install time, before a fresh clone has built
// dist/, and would leave a compiled entry point without its executable bit.
import("../dist/main.js").catch((err) => {
  // Only our own entry point missing means "not built"; a missing dependency is a broken install, shown as is.
  if (err?.code !== "ERR_MODULE_NOT_FOUND" || !String(err.message).includes("/dist/main.js")) throw err;
  process.stderr.write("totpctl: not built yet: run `npm run build` (or `npm start`) in the checkout first\n");
  process.exitCode = 1;
});
