import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TotpError } from "../src/errors.js";
import { decodeBase32 } from "../src/parse/decodeBase32.js";
import type { LabelRef } from "../src/seed.js";
import { encodeBase32 } from "../src/store/encodeBase32.js";
import { labelPath, refKey } from "../src/store/labelPaths.js";
import { labelRefOfTotpKey, totpKeyName } from "../src/store/totpKeyName.js";

const user = (label: string, principal: string): LabelRef => ({ label, owner: { shared: false, principal } });
const team = (label: string): LabelRef => ({ label, owner: { shared: true } });

// OpenBao's GenericNameWithAtRegex, which the TOTP engine's keys/<name> and code/<name> paths match.
const ENGINE_NAME = /^\w(([\w\-.@]+)?\w)?$/;

describe("storage paths of labels", () => {
  it("puts personal labels under users/<platform>/<id> and shared ones under shared", () => {
    expect(labelPath(user("github", "telegram:123"))).toBe("users/telegram/123/github");
    expect(labelPath(user("a.b_c-d", "service:deployer"))).toBe("users/service/deployer/a.b_c-d");
    expect(labelPath(team("aws-root"))).toBe("shared/aws-root");
  });

  it("refuses principals and labels that would not be one safe path segment", () => {
    for (const bad of ["telegram:../x", "telegram:1/2", "nobody:1", "telegram:", "service:.hidden", "telegram:01"]) {
      expect(() => labelPath(user("x", bad)), bad).toThrow(TotpError);
    }
    for (const bad of ["..", "a/b", "A", "", "a..b", "-a"]) expect(() => labelPath(team(bad)), bad).toThrow(TotpError);
  });

  it("gives each (owner, label) its own cache key", () => {
    const keys = [user("a", "telegram:1"), user("a", "telegram:2"), user("b", "telegram:1"), team("a")].map(refKey);
    expect(new Set(keys).size).toBe(4);
  });
});

describe("TOTP engine key names", () => {
  const refs: LabelRef[] = [
    team("aws-root"),
    team("ends-with-dash-"),
    team("ends.with.dot."),
    team("0"),
    user("github", "telegram:123"),
    user("x_", "zulip:42"),
    user("a.-_", "service:deployer"),
    user("m", "service:ends-"),
    user("m", "service:a.b_c-d."),
  ];

  it("derives names within the engine's name rules, reversibly", () => {
    for (const ref of refs) {
      const name = totpKeyName(ref);
      expect(name, name).toMatch(ENGINE_NAME);
      expect(labelRefOfTotpKey(name)).toEqual(ref);
    }
    expect(totpKeyName(user("github", "telegram:123"))).toBe("github@123@telegram");
    expect(totpKeyName(team("aws-root"))).toBe("aws-root@shared");
  });

  it("gives distinct labels distinct names", () => {
    const names = refs.map(totpKeyName);
    expect(new Set(names).size).toBe(names.length);
  });

  it("does not read names it did not make", () => {
    for (const name of ["x", "x@y", "x@1@shared", "x@1@nobody", "a@b@c@d", "..@shared", "x@01@telegram"]) {
      expect(labelRefOfTotpKey(name), name).toBeUndefined();
    }
  });
});

describe("encodeBase32", () => {
  it("is the inverse of the parser's decodeBase32 for every secret length", () => {
    for (let length = 10; length <= 128; length++) {
      const secret = randomBytes(length);
      expect(decodeBase32(encodeBase32(secret))).toEqual(secret);
    }
  });

  it("matches RFC 4648's test vectors", () => {
    const vectors = { f: "MY", fo: "MZXQ", foo: "MZXW6", foob: "MZXW6YQ", fooba: "MZXW6YTB", foobar: "MZXW6YTBOI" };
    for (const [plain, encoded] of Object.entries(vectors)) expect(encodeBase32(Buffer.from(plain))).toBe(encoded);
  });
});
