import { Algorithm, Encoding, type SeedSpec } from "@totp-custody/contract";
import fc from "fast-check";
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { TotpError } from "../src/errors.js";
import { decodeBase32 } from "../src/parse/decodeBase32.js";
import { labelFromEntry } from "../src/parse/labelFromEntry.js";
import { parseMigrationUri } from "../src/parse/parseMigrationUri.js";
import { parseOtpauthUri } from "../src/parse/parseOtpauthUri.js";
import { seedFromSpec } from "../src/parse/seedFromSpec.js";
import { validateLabel } from "../src/parse/validateLabel.js";
import { encodeMigrationPayload, type MigrationOtp } from "./encodeMigrationPayload.js";
import { secretTraces, tracesIn } from "./secretTraces.js";

// Every parser either answers or throws TotpError INVALID_ARGUMENT, whose message never holds the canary secret.

/** A valid base32 secret (18 bytes) planted in the inputs; no message may contain any 8 characters of it. */
const CANARY = "CANARYJBSWY3DPEHPK3PXPSECRETQ";
const CANARY_BYTES = decodeBase32(CANARY);
const CANARY_TRACES = [
  ...Array.from({ length: CANARY.length - 7 }, (_, i) => CANARY.slice(i, i + 8)),
  ...secretTraces(CANARY_BYTES),
];

function assertNoCanary(text: string): void {
  if (tracesIn(text, CANARY_TRACES).length > 0) throw new Error(`a message holds the canary secret: ${text}`);
}

/** Runs a parser on one input: our validation error is an answer; anything else escapes and fails the property. */
function answer<T>(parse: () => T): T | TotpError {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof TotpError) || err.code !== "INVALID_ARGUMENT") throw err;
    assertNoCanary(err.message);
    return err;
  }
}

/** Runs per property; the last test checks that they were all made. */
const RUNS = {
  label: 6_000,
  labelFromEntry: 6_000,
  base32: 8_000,
  otpauthStrings: 4_000,
  otpauthFragments: 8_000,
  otpauthStructured: 8_000,
  otpauthBytes: 4_000,
  spec: 6_000,
  migrationStrings: 3_000,
  migrationBytes: 4_000,
  migrationPayloads: 8_000,
};

/** Runs the properties actually made, counted by fast-check as each ends: the volume the last test checks. */
let runsMade = 0;
/** fc.assert parameters: `numRuns` runs, each counted in `runsMade`. */
const counted = (numRuns: number) => ({
  numRuns,
  plugins: [
    fc.afterEach(() => {
      runsMade++;
    }),
  ],
});

const anyString = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: "binary-ascii", maxLength }),
  );

/** Mostly `usual` (so that inputs get past the first check), sometimes `other`. */
const mostly = <T>(usual: fc.Arbitrary<T>, other: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: usual, weight: 4 }, { arbitrary: other, weight: 1 });

/** The canary as it is, and as pasting damages it: case, spaces, a stray character, cut short, padded. */
const canaryVariant = fc.oneof(
  fc.constant(CANARY),
  fc.constant(CANARY.toLowerCase()),
  fc.constant(CANARY.replace(/(.{4})/g, "$1 ")),
  fc.constant(`${CANARY}===`),
  fc
    .tuple(fc.nat(CANARY.length), fc.string({ unit: "binary", minLength: 1, maxLength: 2 }))
    .map(([at, s]) => CANARY.slice(0, at) + s + CANARY.slice(at)),
  fc.nat(CANARY.length).map((n) => CANARY.slice(0, n)),
  fc.nat(CANARY.length).map((n) => CANARY.slice(n)),
);

describe("fuzz: validateLabel and labelFromEntry", () => {
  it(`validateLabel accepts exactly the contract's rule (${RUNS.label} runs)`, () => {
    const labelish = fc.oneof(
      anyString(60),
      fc.string({ unit: fc.constantFrom(..."az09._-A/ é"), maxLength: 55 }),
      fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,50}$/),
    );
    fc.assert(
      fc.property(labelish, (label) => {
        const valid = /^[a-z0-9][a-z0-9._-]{0,47}$/.test(label) && !label.includes("..");
        expect(answer(() => validateLabel(label)) === label).toBe(valid);
      }),
      counted(RUNS.label),
    );
  });

  it(`labelFromEntry gives a valid label that starts with the prefix (${RUNS.labelFromEntry} runs)`, () => {
    const prefix = fc.oneof(fc.constant(""), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,40}$/), anyString(10));
    fc.assert(
      fc.property(prefix, anyString(140), anyString(140), (p, issuer, account) => {
        const label = answer(() => labelFromEntry(p, issuer, account));
        if (label instanceof TotpError) return;
        expect(validateLabel(label)).toBe(label);
        expect(label.startsWith(p)).toBe(true);
      }),
      counted(RUNS.labelFromEntry),
    );
  });
});

describe("fuzz: decodeBase32", () => {
  it(`decodes like otpauth whenever it accepts (${RUNS.base32} runs)`, () => {
    const base32ish = fc.oneof(
      canaryVariant,
      anyString(300),
      fc.string({ unit: fc.constantFrom(..."ABCXYZ234567abz =018-"), maxLength: 240 }),
    );
    fc.assert(
      fc.property(base32ish, (text) => {
        const bytes = answer(() => decodeBase32(text));
        if (bytes instanceof TotpError) return;
        expect(bytes).toEqual(Buffer.from(Secret.fromBase32(text).bytes));
      }),
      counted(RUNS.base32),
    );
  });
});

describe("fuzz: parseOtpauthUri", () => {
  const check = (uri: string) => {
    answer(() => parseOtpauthUri(uri));
  };

  it(`random strings (${RUNS.otpauthStrings} runs)`, () => {
    fc.assert(fc.property(anyString(200), check), counted(RUNS.otpauthStrings));
  });

  it(`strings glued from URI pieces and the canary (${RUNS.otpauthFragments} runs)`, () => {
    const piece = fc.oneof(
      {
        // Separated by "|" to keep the list short.
        arbitrary: fc.constantFrom(
          ..."otpauth://|OTPAUTH://totp/|otpauth-migration://|otpauth:|totp|hotp|steam|/|?|&|=|#|:|%|%3A|%3a|%20|%ZZ|%C3|%FF|%0A|+| |secret=|issuer=|algorithm=|digits=|period=|encoder=|SHA1|sha256|MD5|6|8|5|30|0|86401|==".split(
            "|",
          ),
        ),
        weight: 6,
      },
      { arbitrary: canaryVariant, weight: 2 },
      { arbitrary: anyString(12), weight: 2 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom("", `otpauth://totp/x?secret=${CANARY}&`),
        fc.array(piece, { maxLength: 30 }),
        (head, pieces) => check(head + pieces.join("")),
      ),
      counted(RUNS.otpauthFragments),
    );
  });

  it(`well-formed URIs with random parts (${RUNS.otpauthStructured} runs)`, () => {
    // Weighted towards URIs that pass, so that the paths past each check are fuzzed too.
    const type = fc.oneof(
      { arbitrary: fc.constantFrom("totp", "TOTP", "steam"), weight: 8 },
      { arbitrary: fc.constantFrom("hotp", "", "motp", CANARY), weight: 1 },
    );
    const label = fc.oneof(anyString(40), fc.constantFrom("Example:alice", "ACME%20Co%3A%20bob", "%E2%82%AC", "a%2"));
    const name = fc.constantFrom("secret", "issuer", "algorithm", "digits", "period", "encoder", "counter", "SECRET");
    const value = fc.oneof(
      {
        arbitrary: fc.constantFrom(..."SHA1|SHA512|md5|6|8|5|7|30|0|86400|86401|steam||%|%41".split("|")),
        weight: 4,
      },
      { arbitrary: canaryVariant, weight: 1 },
      { arbitrary: anyString(20), weight: 1 },
      { arbitrary: fc.integer().map(String), weight: 1 },
    );
    // Each name once at most (duplicates are the glued pieces' business); the canary is the secret unless one is drawn.
    const params = fc.uniqueArray(fc.tuple(name, value), { maxLength: 6, selector: ([k]) => k.toLowerCase() });
    const uri = fc.tuple(type, label, params).map(([t, l, ps]) => {
      const secret: [string, string][] = ps.some(([k]) => k.toLowerCase() === "secret") ? [] : [["secret", CANARY]];
      return `otpauth://${t}/${l}?${[...secret, ...ps].map(([k, v]) => `${k}=${v}`).join("&")}`;
    });
    fc.assert(fc.property(uri, check), counted(RUNS.otpauthStructured));
  });

  it(`random bytes, raw and percent-encoded, after a valid head (${RUNS.otpauthBytes} runs)`, () => {
    const tail = fc
      .uint8Array({ maxLength: 120 })
      .chain((bytes) =>
        fc.constantFrom(
          Buffer.from(bytes).toString("latin1"),
          Array.from(bytes, (b) => `%${b.toString(16).padStart(2, "0")}`).join(""),
        ),
      );
    const head = fc.constantFrom("otpauth://totp/", `otpauth://totp/x?secret=${CANARY}&issuer=`, "otpauth://");
    fc.assert(
      fc.property(head, tail, (h, t) => check(h + t)),
      counted(RUNS.otpauthBytes),
    );
  });
});

describe("fuzz: seedFromSpec", () => {
  it(`random specs (${RUNS.spec} runs)`, () => {
    const odd = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 86_401));
    const spec: fc.Arbitrary<SeedSpec> = fc.record({
      secretBase32: mostly(canaryVariant, anyString(250)),
      algorithm: mostly(
        fc.constantFrom(...Object.values(Algorithm).filter((v) => typeof v === "number")),
        fc.integer(),
      ),
      digits: mostly(fc.constantFrom(0, 5, 6, 8), odd),
      period: mostly(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 86_400 })), odd),
      issuer: mostly(fc.string({ maxLength: 40 }), anyString(140)),
      account: mostly(fc.string({ maxLength: 40 }), anyString(140)),
      encoding: mostly(fc.constantFrom(...Object.values(Encoding).filter((v) => typeof v === "number")), fc.integer()),
    }) as fc.Arbitrary<SeedSpec>;
    fc.assert(
      fc.property(spec, (s) => {
        answer(() => seedFromSpec(s));
      }),
      counted(RUNS.spec),
    );
  });
});

describe("fuzz: parseMigrationUri", () => {
  const HEAD = "otpauth-migration://offline?data=";
  const check = (uri: string) => {
    const entries = answer(() => parseMigrationUri(uri));
    if (entries instanceof TotpError) return;
    for (const entry of entries) if ("reason" in entry) assertNoCanary(entry.reason);
  };
  const withData = (bytes: Uint8Array, urlSafe: boolean) =>
    HEAD + encodeURIComponent(Buffer.from(bytes).toString(urlSafe ? "base64url" : "base64"));

  it(`random strings, bare and after the head (${RUNS.migrationStrings} runs)`, () => {
    fc.assert(
      fc.property(fc.constantFrom("", HEAD, "otpauth-migration://"), anyString(200), (h, t) => check(h + t)),
      counted(RUNS.migrationStrings),
    );
  });

  it(`random bytes as the payload (${RUNS.migrationBytes} runs)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, urlSafe) => check(withData(bytes, urlSafe))),
      counted(RUNS.migrationBytes),
    );
  });

  it(`exports holding the canary, damaged at random (${RUNS.migrationPayloads} runs)`, () => {
    const otp: fc.Arbitrary<MigrationOtp> = fc.record(
      {
        secret: fc.oneof(fc.constant(CANARY_BYTES), fc.uint8Array({ maxLength: 140 })),
        name: mostly(fc.oneof(fc.string({ maxLength: 40 }), fc.constant("Issuer:account")), anyString(140)),
        issuer: mostly(fc.string({ maxLength: 20 }), anyString(140)),
        algorithm: mostly(fc.integer({ min: 0, max: 4 }), fc.integer()),
        digits: mostly(fc.integer({ min: 0, max: 2 }), fc.integer()),
        type: mostly(fc.constantFrom(0, 1, 2, 2, 2), fc.integer()),
        counter: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      },
      { requiredKeys: ["secret"] },
    );
    const damage = fc.oneof(
      fc.constant((b: Uint8Array) => b),
      fc.nat().map((at) => (b: Uint8Array) => b.subarray(0, at % (b.length + 1))),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => (b: Uint8Array) => {
        const copy = Uint8Array.from(b);
        if (copy.length > 0) copy[at % copy.length] = (copy[at % copy.length] as number) ^ x;
        return copy;
      }),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, x]) => (b: Uint8Array) => {
        const i = at % (b.length + 1);
        return Uint8Array.from([...b.subarray(0, i), x, ...b.subarray(i)]);
      }),
    );
    fc.assert(
      fc.property(fc.array(otp, { maxLength: 6 }), damage, fc.boolean(), (entries, harm, urlSafe) =>
        check(withData(harm(encodeMigrationPayload(entries)), urlSafe)),
      ),
      counted(RUNS.migrationPayloads),
    );
  });
});

// Counts what ran rather than adding up RUNS: a property that stopped early, or lost its `counted`, shows here.
// Runs last, after every property above (tests of a file run in order).
it("fuzzed at least 50,000 inputs in all, every property its full number of runs", () => {
  expect(runsMade).toBe(Object.values(RUNS).reduce((a, b) => a + b, 0));
  expect(runsMade).toBeGreaterThanOrEqual(50_000);
});
