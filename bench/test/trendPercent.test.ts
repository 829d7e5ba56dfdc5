import { describe, expect, it } from "vitest";
import { trendPercent } from "../src/trendPercent.js";

/** One sample every 10 s for `minutes`, as the soak takes them. */
const soak = (minutes: number, y: (seconds: number) => number) =>
  Array.from({ length: minutes * 6 + 1 }, (_, i) => ({ x: i * 10, y: y(i * 10) }));

describe("trendPercent", () => {
  it("is the rise of a straight line over its span, in % of where it starts", () => {
    expect(trendPercent(soak(30, (s) => 100 + s / 180))).toBeCloseTo(10, 9);
    expect(trendPercent(soak(30, (s) => 200 - s / 90))).toBeCloseTo(-10, 9);
  });

  it("is 0 for a level that does not move", () => {
    expect(trendPercent(soak(30, () => 150e6))).toBe(0);
  });

  it("sees through a sawtooth (heap use between collections) that has no upward drift", () => {
    // Rises for 60 s, drops back at each collection: the two ends alone could say anything from -50 % to +100 %.
    const sawtooth = soak(30, (s) => 50e6 + (s % 60) * 1e6);
    expect(Math.abs(trendPercent(sawtooth))).toBeLessThan(2);
  });

  it("shows a slow leak under the sawtooth", () => {
    // 10 kB/s on a line about 75 MB high: 18 MB over 30 minutes, 24 %.
    const leaking = soak(30, (s) => 50e6 + (s % 60) * 1e6 + s * 1e4);
    expect(trendPercent(leaking)).toBeGreaterThan(22);
    expect(trendPercent(leaking)).toBeLessThan(26);
  });

  it("does not depend on the order of the samples", () => {
    const points = soak(10, (s) => 100 + s / 60);
    expect(trendPercent([...points].reverse())).toBeCloseTo(trendPercent(points), 9);
  });

  it("is NaN when the samples span no time", () => {
    expect(trendPercent([])).toBeNaN();
    expect(trendPercent([{ x: 0, y: 1 }])).toBeNaN();
    expect(
      trendPercent([
        { x: 5, y: 1 },
        { x: 5, y: 2 },
      ]),
    ).toBeNaN();
  });
});
