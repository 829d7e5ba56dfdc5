import { describe, expect, it } from "vitest";
import { PolicyError } from "../src/policy/PolicyError.js";
import { parsePolicy } from "../src/policy/parsePolicy.js";
import { principalProblem } from "../src/policy/principal.js";

const DESIGN_EXAMPLE = `
clients:                                   # by certificate identity (URI SAN)
  spiffe://totp.internal/telegram-bot: { actsFor: telegram }      # may set on_behalf_of = telegram:<id>
  spiffe://totp.internal/zulip-bot:    { actsFor: zulip }
  spiffe://totp.internal/deployer:     { principal: service:deployer }
  spiffe://totp.internal/admin:        { principal: service:admin, admin: true }
groups:
  ops: [telegram:111, zulip:42, service:deployer]
shared:                                    # team labels
  aws-root: { readers: [group:ops], managers: [service:admin] }
selfService: true                           # principals may register personal labels
`;

// Each level repeats the one before ten times: 1000 strings from a few lines, if aliases were expanded unchecked.
const ALIAS_BOMB = [
  "a: &a [x, x, x, x, x, x, x, x, x, x]",
  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
  "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
].join("\n");

/** The PolicyError message parsePolicy throws for `yaml`. */
function problemOf(yaml: string): string {
  try {
    parsePolicy(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).message;
  }
  throw new Error("the policy was accepted");
}

describe("parsePolicy", () => {
  it("compiles the design's example", () => {
    const policy = parsePolicy(DESIGN_EXAMPLE);
    expect(policy.clients.get("spiffe://totp.internal/telegram-bot")).toEqual({
      kind: "actsFor",
      platform: "telegram",
    });
    expect(policy.clients.get("spiffe://totp.internal/zulip-bot")).toEqual({ kind: "actsFor", platform: "zulip" });
    expect(policy.clients.get("spiffe://totp.internal/deployer")).toEqual({
      kind: "principal",
      principal: "service:deployer",
      admin: false,
    });
    expect(policy.clients.get("spiffe://totp.internal/admin")).toEqual({
      kind: "principal",
      principal: "service:admin",
      admin: true,
    });
    expect(policy.selfService).toBe(true);
    expect(policy.sharedLabels).toEqual(["aws-root"]);
    // The group is expanded, and the manager reads too.
    expect(policy.shared.get("aws-root")).toEqual({
      readers: new Set(["telegram:111", "zulip:42", "service:deployer", "service:admin"]),
      managers: new Set(["service:admin"]),
    });
    expect(policy.sharedByReader.get("zulip:42")).toEqual(["aws-root"]);
    expect(policy.sharedByReader.get("telegram:222")).toBeUndefined();
  });

  it.each([
    ["an empty file", ""],
    ["only comments", "# nothing yet\n"],
    ["empty sections", "clients:\ngroups:\nshared:\n"],
  ])("reads %s as no clients, no shared labels, selfService off", (_, yaml) => {
    const policy = parsePolicy(yaml);
    expect(policy.clients.size).toBe(0);
    expect(policy.shared.size).toBe(0);
    expect(policy.sharedLabels).toEqual([]);
    expect(policy.selfService).toBe(false);
  });

  it("lists each principal's readable shared labels sorted, with groups and managers merged", () => {
    const policy = parsePolicy(`
groups:
  ops: [telegram:1, telegram:2]
  dev: [telegram:2]
shared:
  zeta: { readers: [group:ops] }
  alpha: { readers: [group:dev, telegram:1], managers: [telegram:3] }
  nobody: {}
`);
    expect(policy.sharedLabels).toEqual(["alpha", "nobody", "zeta"]);
    expect(policy.sharedByReader.get("telegram:1")).toEqual(["alpha", "zeta"]);
    expect(policy.sharedByReader.get("telegram:2")).toEqual(["alpha", "zeta"]);
    expect(policy.sharedByReader.get("telegram:3")).toEqual(["alpha"]);
    expect(policy.shared.get("nobody")).toEqual({ readers: new Set(), managers: new Set() });
  });

  // Each bad file, and the text its error must hold: the key path first, then what is wrong there.
  it.each([
    ["unknown top-level key", "clientz: {}", "clientz: unknown key"],
    [
      "unknown client key",
      "clients:\n  spiffe://t/x: { actsFor: telegram, role: x }",
      'clients["spiffe://t/x"].role: unknown key',
    ],
    [
      "actsFor of an unknown platform",
      "clients:\n  spiffe://x/y: { actsFor: slack }",
      'clients["spiffe://x/y"].actsFor: expected one of telegram, zulip',
    ],
    [
      "actsFor: service",
      "clients:\n  spiffe://x/y: { actsFor: service }",
      'clients["spiffe://x/y"].actsFor: expected one of telegram, zulip',
    ],
    [
      "a client with both actsFor and principal",
      "clients:\n  spiffe://x/y: { actsFor: telegram, principal: service:a }",
      'clients["spiffe://x/y"]: set actsFor or principal, not both',
    ],
    [
      "a client with neither actsFor nor principal",
      "clients:\n  spiffe://x/y: {}",
      'clients["spiffe://x/y"]: set actsFor (a bot) or principal (a service)',
    ],
    [
      "an admin bot",
      "clients:\n  spiffe://x/y: { actsFor: zulip, admin: true }",
      'clients["spiffe://x/y"].admin: only a client with a principal can be admin',
    ],
    [
      "admin that is not a boolean",
      "clients:\n  spiffe://x/y: { principal: service:a, admin: yes }",
      'clients["spiffe://x/y"].admin: Invalid input: expected boolean',
    ],
    [
      "a principal of an unknown platform",
      "clients:\n  spiffe://x/y: { principal: slack:1 }",
      'clients["spiffe://x/y"].principal: "slack:1" is not a principal: expected <platform>:<id>',
    ],
    [
      "a principal without a platform",
      "clients:\n  spiffe://x/y: { principal: deployer }",
      'clients["spiffe://x/y"].principal: "deployer" is not a principal',
    ],
    [
      "a non-numeric telegram id",
      "groups:\n  ops: [telegram:111, telegram:bob]",
      'groups.ops[1]: "telegram:bob" is not a principal: a telegram id is a user number without leading zeros',
    ],
    [
      "a zulip id with a leading zero",
      "groups:\n  ops: [zulip:042]",
      'groups.ops[0]: "zulip:042" is not a principal: a zulip id is a user number without leading zeros',
    ],
    [
      "a service id with a slash",
      "groups:\n  ops: [service:a/b]",
      'groups.ops[0]: "service:a/b" is not a principal: a service id is 1 to 64 letters',
    ],
    ["a service id of ..", "groups:\n  ops: [service:..]", 'groups.ops[0]: "service:.." is not a principal'],
    ["a service id over 64 characters", `groups:\n  ops: [service:${"a".repeat(65)}]`, "groups.ops[0]: "],
    ["a group that is not a list", "groups:\n  ops: telegram:1", "groups.ops: Invalid input: expected array"],
    ["a bad group name", "groups:\n  -ops: [telegram:1]", 'groups["-ops"]: a group name is 1 to 64'],
    [
      "a reader that is neither a principal nor a group",
      "shared:\n  aws: { readers: [ops] }",
      'shared.aws.readers[0]: "ops" is neither a principal nor group:<name>',
    ],
    [
      "a manager naming an unknown group",
      "groups:\n  ops: [telegram:1]\nshared:\n  aws: { managers: [group:dev] }",
      "shared.aws.managers[0]: unknown group (known: ops)",
    ],
    [
      "a reader naming a group when there are none",
      "shared:\n  aws: { readers: [telegram:1, group:ops] }",
      "shared.aws.readers[1]: unknown group (known: none)",
    ],
    ["an unknown shared label key", "shared:\n  aws: { writers: [] }", "shared.aws.writers: unknown key"],
    ["an upper-case shared label", "shared:\n  AWS: {}", "shared.AWS: a shared label name is 1 to 48 of a-z"],
    ["a shared label with ..", "shared:\n  a..b: {}", 'shared["a..b"]: a shared label name is'],
    ["a shared label starting with -", "shared:\n  -aws: {}", 'shared["-aws"]: a shared label name is'],
    ["a shared label of 49 characters", `shared:\n  ${"a".repeat(49)}: {}`, `shared.${"a".repeat(49)}: a shared`],
    [
      "a client identity that is not a SPIFFE ID",
      "clients:\n  telegram-bot: { actsFor: telegram }",
      'clients["telegram-bot"]: a client identity is a SPIFFE ID',
    ],
    [
      "a SPIFFE ID without a path",
      "clients:\n  spiffe://totp.internal: { actsFor: telegram }",
      'clients["spiffe://totp.internal"]: a client identity is a SPIFFE ID',
    ],
    [
      "a SPIFFE ID with a .. segment",
      "clients:\n  spiffe://totp.internal/a/../b: { actsFor: telegram }",
      'clients["spiffe://totp.internal/a/../b"]: a client identity is a SPIFFE ID',
    ],
    [
      "an https identity",
      "clients:\n  https://totp.internal/bot: { actsFor: telegram }",
      'clients["https://totp.internal/bot"]: a client identity is a SPIFFE ID',
    ],
    ["selfService that is not a boolean", "selfService: yes", "selfService: Invalid input: expected boolean"],
    ["a list instead of a mapping", "- clients", "(top level): Invalid input: expected object"],
  ])("refuses %s, naming the key", (_, yaml, expected) => {
    expect(problemOf(yaml)).toContain(expected);
  });

  it("reports every problem of a file at once", () => {
    const message = problemOf("clients:\n  spiffe://x/y: { actsFor: slack }\nselfService: 1\nextra: 2");
    expect(message).toMatch(/^invalid policy: /);
    expect(message).toContain('clients["spiffe://x/y"].actsFor: expected one of telegram, zulip');
    expect(message).toContain("selfService: Invalid input: expected boolean");
    expect(message).toContain("extra: unknown key");
  });

  it.each([
    [
      "an unclosed flow sequence",
      "groups:\n  ops: [telegram:1\nshared: {}\n",
      /^YAML syntax error at line 3, column 1: /,
    ],
    ["a duplicate key", "selfService: true\nselfService: false\n", /^YAML syntax error at line 2, column 1: .*unique/],
    ["a tab indentation", "clients:\n\tspiffe://x/y: {}\n", /^YAML syntax error at line 2, column \d+: /],
  ])("reports %s with its line", (_, yaml, expected) => {
    expect(problemOf(yaml)).toMatch(expected);
  });

  it.each([
    ["an unknown alias", "clients: *bots\n", /^YAML error: .*alias/],
    ["an alias bomb", ALIAS_BOMB, /^YAML error: .*alias/i],
  ])("refuses %s as a PolicyError", (_, yaml, expected) => {
    expect(problemOf(yaml)).toMatch(expected);
  });
});

describe("principalProblem", () => {
  it.each(["telegram:1", "telegram:123456789012", "zulip:42", "service:deployer", "service:a.b_c-D9"])(
    "accepts %s",
    (text) => expect(principalProblem(text)).toBeUndefined(),
  );

  it.each([
    "",
    "telegram",
    "telegram:",
    ":1",
    "group:ops",
    "Telegram:1",
    "telegram:0",
    "telegram:-1",
    "telegram:1 ",
    "zulip:1e3",
    "service:",
    "service:.",
    "service:..",
    "service:-x",
    "service:a:b",
    `service:${"a".repeat(65)}`,
  ])("refuses %j", (text) => expect(principalProblem(text)).toBeDefined());

  // Its answer goes into RPC errors, and a confused bot could send a seed as on_behalf_of.
  it.each([
    "JBSWY3DPEHPK3PXP",
    "telegram:JBSWY3DPEHPK3PXP",
    "service:JBSWY3DP/EHPK3PXP",
    "otpauth://totp/a?secret=JBSWY3DP",
  ])("never repeats the text it refuses: %j", (text) => expect(principalProblem(text)).not.toMatch(/JBSWY3DP/));
});
