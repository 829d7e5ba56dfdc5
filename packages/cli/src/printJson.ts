/** Writes a value as indented JSON on stdout: `--json` output, for jq and scripts. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
