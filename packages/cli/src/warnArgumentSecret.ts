/**
 * Warns a person who typed a secret as an argument: it is now in their shell history (and was visible in `ps`).
 * Only when standard input is a terminal: a script passing a variable reads no warnings, and `-` is the way out.
 */
export function warnArgumentSecret(what: string): void {
  if (!process.stdin.isTTY) return;
  process.stderr.write(
    `totpctl: warning: the ${what} was given on the command line and may be in your shell history; ` +
      "pass - to type or pipe it instead\n",
  );
}
