import { createHmac } from "node:crypto";
import { readTestJson } from "@totp-custody/testkit";
import fc from "fast-check";
import { HOTP, Secret, TOTP } from "otpauth";
import { describe, expect, it } from "vitest";
import { codeWindow } from "../src/otp/codeWindow.js";
import { hotp } from "../src/otp/hotp.js";
import type { HashAlgorithm, SeedInput } from "../src/seed.js";

interface VectorFile {
  seeds: Record<HashAlgorithm, { ascii: string; base32: string }>;
  cases: { time: number; algorithm: HashAlgorithm; digits: number; period: number; code: string }[];
}

const vectors = readTestJson<VectorFile>("vectors", "rfc6238.json");

const seed = (secret: Buffer, params: Partial<SeedInput> = {}): SeedInput => ({
  secret,
  algorithm: "SHA1",
  digits: 6,
  period: 30,
  encoding: "numeric",
  issuer: "",
  account: "",
  ...params,
});

describe("RFC 6238 appendix B vectors (packages/testkit/data/vectors/rfc6238.json)", () => {
  it("has every case of the file", () => expect(vectors.cases).toHaveLength(18));

  it.each(vectors.cases)("T=$time $algorithm → $code", (c) => {
    const s = seed(Buffer.from(vectors.seeds[c.algorithm].ascii, "ascii"), {
      algorithm: c.algorithm,
      digits: c.digits,
      period: c.period,
    });
    expect(codeWindow(s, c.time * 1000).code).toBe(c.code);
    // The last second of the step gives the same code, the first of the next one does not (window edges).
    const stepEnd = (Math.floor(c.time / c.period) + 1) * c.period * 1000;
    expect(codeWindow(s, stepEnd - 1).code).toBe(c.code);
    expect(codeWindow(s, stepEnd).code).not.toBe(c.code);
  });
});

describe("RFC 4226 appendix D", () => {
  const secret = Buffer.from("12345678901234567890", "ascii");
  const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
  it.each(expected.map((code, counter) => ({ counter, code })))("counter $counter → $code", ({ counter, code }) => {
    expect(hotp(secret, counter, { algorithm: "SHA1", digits: 6, encoding: "numeric" })).toBe(code);
  });
});

describe("hotp arguments", () => {
  const secret = Buffer.alloc(20, 1);
  it("writes counters beyond 2^32 in full (high word included)", () => {
    // Same low 32 bits, different high word: a 32-bit counter would give the same code.
    const params = { algorithm: "SHA1", digits: 8, encoding: "numeric" } as const;
    expect(hotp(secret, 2 ** 32 + 5, params)).not.toBe(hotp(secret, 5, params));
    expect(hotp(secret, 2 ** 32 + 5, params)).toBe(
      HOTP.generate({ secret: new Secret({ buffer: new Uint8Array(secret).buffer }), counter: 2 ** 32 + 5, digits: 8 }),
    );
  });
  it.each([-1, 0.5, Number.NaN, 2 ** 53])("refuses counter %s", (counter) => {
    expect(() => hotp(secret, counter, { algorithm: "SHA1", digits: 6, encoding: "numeric" })).toThrow(RangeError);
  });
  it("refuses a digit count no seed can have", () => {
    expect(() => hotp(secret, 1, { algorithm: "SHA1", digits: 7, encoding: "numeric" })).toThrow(RangeError);
  });
});

/** The 31-bit dynamic-truncation value, straight from the RFC, as the reference for Steam codes. */
function truncated(secret: Buffer, counter: number, algorithm: HashAlgorithm): number {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm.toLowerCase(), secret).update(message).digest();
  const offset = (mac.at(-1) as number) & 0xf;
  return mac.readUInt32BE(offset) & 0x7fffffff;
}

/** Steam Guard as its clients describe it, written independently of src/otp. */
function steamReference(value: number): string {
  const alphabet = "23456789BCDFGHJKMNPQRTVWXY";
  let v = value;
  let code = "";
  for (let i = 0; i < 5; i++) {
    code += alphabet.charAt(v % alphabet.length);
    v = Math.floor(v / alphabet.length);
  }
  return code;
}

describe("Steam Guard", () => {
  const secret = Buffer.from("12345678901234567890", "ascii");
  // RFC 4226 appendix D lists the 31-bit truncated values for counters 0..4; their Steam codes were worked out
  // by hand (base 26, least significant digit first) outside this code base.
  const cases = [
    { counter: 0, value: 1284755224, code: "GG5F5" },
    { counter: 1, value: 1094287082, code: "PV9M4" },
    { counter: 2, value: 137359152, code: "B26KJ" },
    { counter: 3, value: 1726969429, code: "5H85C" },
    { counter: 4, value: 1640338314, code: "6Y9J3" },
  ];
  it.each(cases)("counter $counter → $code", ({ counter, value, code }) => {
    expect(truncated(secret, counter, "SHA1")).toBe(value);
    expect(steamReference(value)).toBe(code);
    expect(hotp(secret, counter, { algorithm: "SHA1", digits: 5, encoding: "steam" })).toBe(code);
  });
});

// Property tests against a second implementation, the `otpauth` package.
const algorithms: readonly HashAlgorithm[] = ["SHA1", "SHA256", "SHA512"];
const secretArb = fc.uint8Array({ minLength: 10, maxLength: 128 }).map((b) => Buffer.from(b));
/** Unix ms from 1970 to year ~128,000: with 1 s periods the counter goes well past 2^32. Below 2^52 otpauth's
 * floating-point counter division is exact enough to compare with. */
const timeArb = fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800_000 }), // up to 2100
  fc.bigInt({ min: 0n, max: 4_000_000_000_000_000n }).map(Number),
);
const periodArb = fc.oneof(fc.constantFrom(1, 30, 60, 86_400), fc.integer({ min: 1, max: 86_400 }));
const numericSeedArb = fc.record({
  secret: secretArb,
  algorithm: fc.constantFrom(...algorithms),
  digits: fc.constantFrom(6, 8),
  period: periodArb,
  encoding: fc.constant("numeric" as const),
  issuer: fc.constant(""),
  account: fc.constant(""),
});
const otpauthSecret = (b: Buffer) => new Secret({ buffer: new Uint8Array(b).buffer });

/** Runs per property: 11,000 in all. */
const RUNS = { totp: 4000, hotp: 2000, steam: 2000, window: 3000 };

describe("properties against otpauth", () => {
  it(`TOTP code and next code match otpauth (${RUNS.totp} runs)`, () => {
    fc.assert(
      fc.property(numericSeedArb, timeArb, (s, at) => {
        const w = codeWindow(s, at);
        const reference = {
          secret: otpauthSecret(s.secret),
          algorithm: s.algorithm,
          digits: s.digits,
          period: s.period,
        };
        expect(w.code).toBe(TOTP.generate({ ...reference, timestamp: at }));
        expect(w.nextCode).toBe(TOTP.generate({ ...reference, timestamp: w.validUntil.getTime() }));
      }),
      { numRuns: RUNS.totp },
    );
  });

  it(`HOTP matches otpauth for counters up to 2^53 - 1 (${RUNS.hotp} runs)`, () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat()),
        fc.constantFrom(...algorithms),
        fc.constantFrom(6, 8),
        (secret, counter, algorithm, digits) => {
          expect(hotp(secret, counter, { algorithm, digits, encoding: "numeric" })).toBe(
            HOTP.generate({ secret: otpauthSecret(secret), counter, algorithm, digits }),
          );
        },
      ),
      { numRuns: RUNS.hotp },
    );
  });

  it(`Steam codes encode otpauth's raw truncated value (${RUNS.steam} runs)`, () => {
    fc.assert(
      fc.property(secretArb, fc.maxSafeNat(), fc.constantFrom(...algorithms), (secret, counter, algorithm) => {
        // With 10 digits the modulus exceeds 2^31, so otpauth hands back the whole truncated value.
        const raw = Number(HOTP.generate({ secret: otpauthSecret(secret), counter, algorithm, digits: 10 }));
        expect(raw).toBe(truncated(secret, counter, algorithm));
        expect(hotp(secret, counter, { algorithm, digits: 5, encoding: "steam" })).toBe(steamReference(raw));
      }),
      { numRuns: RUNS.steam },
    );
  });

  it(`the window holds the moment and spans one period (${RUNS.window} runs)`, () => {
    const anySeedArb = fc.oneof(
      numericSeedArb,
      numericSeedArb.map((s) => ({ ...s, digits: 5, encoding: "steam" as const })),
    );
    fc.assert(
      fc.property(anySeedArb, timeArb, (s, at) => {
        const w = codeWindow(s, at);
        expect(w.validFrom.getTime()).toBeLessThanOrEqual(at);
        expect(at).toBeLessThan(w.validUntil.getTime());
        expect(w.validUntil.getTime() - w.validFrom.getTime()).toBe(s.period * 1000);
        expect(w.validFrom.getTime() % (s.period * 1000)).toBe(0);
        expect(w.code).toHaveLength(s.digits);
        expect(codeWindow(s, w.validUntil.getTime()).code).toBe(w.nextCode);
        expect(codeWindow(s, w.validUntil.getTime() - 1).code).toBe(w.code);
      }),
      { numRuns: RUNS.window },
    );
  });
});
