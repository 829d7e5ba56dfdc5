import { Algorithm, Encoding, type LabelInfo } from "@totp-custody/client";
import { describe, expect, it } from "vitest";
import { describeAccount, describeKind, LABEL_TABLE_HEADER, labelRow } from "../src/describeLabel.js";
import { formatTable } from "../src/formatTable.js";

const info = (overrides: Partial<LabelInfo>): LabelInfo => ({
  label: "github",
  issuer: "GitHub",
  account: "ops@example.com",
  algorithm: Algorithm.ALGORITHM_SHA1,
  digits: 6,
  period: 30,
  encoding: Encoding.ENCODING_NUMERIC,
  owner: "service:admin",
  shared: false,
  createdAt: new Date("2030-01-02T03:04:05Z"),
  ...overrides,
});

describe("formatTable", () => {
  it("pads columns to the widest cell, two spaces apart, without trailing spaces", () => {
    expect(
      formatTable(
        ["A", "BB"],
        [
          ["xxx", "y"],
          ["z", ""],
        ],
      ),
    ).toBe("A    BB\nxxx  y\nz");
  });
});

describe("label rows", () => {
  it("describe a label's account, codes, owner and creation day", () => {
    expect(labelRow(info({}))).toEqual([
      "github",
      "GitHub: ops@example.com",
      "SHA1, 6 digits, 30s",
      "service:admin",
      "2030-01-02",
    ]);
    expect(labelRow(info({ shared: true, issuer: "", encoding: Encoding.ENCODING_STEAM, digits: 5 }))).toEqual([
      "github",
      "ops@example.com",
      "Steam, 30s",
      "shared",
      "2030-01-02",
    ]);
    expect(describeKind(info({ algorithm: Algorithm.ALGORITHM_SHA512, digits: 8, period: 60 }))).toBe(
      "SHA512, 8 digits, 60s",
    );
    expect(describeAccount({ issuer: "", account: "" })).toBe("");
    expect(LABEL_TABLE_HEADER).toHaveLength(labelRow(info({})).length);
  });
});
