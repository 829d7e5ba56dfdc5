/** The platforms a principal belongs to: `<platform>:<id>`. */
export type Platform = "telegram" | "zulip" | "service";

const PLATFORMS: readonly string[] = ["telegram", "zulip", "service"] satisfies Platform[];

// Telegram and Zulip user ids are positive integers. Refusing leading zeros gives each user exactly one principal
// text, so group membership and storage paths cannot be split between "telegram:7" and "telegram:007".
const USER_ID = /^[1-9][0-9]{0,63}$/;
// Principals become storage path segments (users/<platform>/<id>/...): starting with a letter or digit rules out
// "." and "..".
const SERVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Why `text` is not a principal, or undefined when it is one. The answer never repeats the text, so it can go into
 * an RPC error whatever a caller sent.
 */
export function principalProblem(text: string): string | undefined {
  const colon = text.indexOf(":");
  const platform = text.slice(0, colon);
  if (colon < 0 || !PLATFORMS.includes(platform)) {
    return "expected <platform>:<id> with platform telegram, zulip or service";
  }
  const id = text.slice(colon + 1);
  if (platform === "service") {
    return SERVICE_ID.test(id)
      ? undefined
      : "a service id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";
  }
  return USER_ID.test(id) ? undefined : `a ${platform} id is a user number without leading zeros`;
}
