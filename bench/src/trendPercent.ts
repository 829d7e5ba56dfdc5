/**
 * How much the least-squares line through `points` rises from the first x to the last, in % of where the line
 * starts. Unlike two end points it is not at the mercy of where in a collection cycle a sample falls: heap use saws
 * up and down, a leak shows as a steady rise. NaN when the points span no time (no trend to tell).
 */
export function trendPercent(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    variance += (p.x - meanX) ** 2;
  }
  if (variance === 0) return Number.NaN;
  const slope = covariance / variance;
  const xs = points.map((p) => p.x);
  const first = Math.min(...xs);
  const last = Math.max(...xs);
  const start = meanY + slope * (first - meanX);
  return ((slope * (last - first)) / start) * 100;
}
