import type { TgMessageEntity } from "./TelegramTypes.js";

const SPOILER_MASK = "░░░";

/** What a user sees before tapping: each spoiler (overlapping ones merged) shown as "░░░". */
export function hideSpoilers(text: string, entities: readonly TgMessageEntity[]): string {
  const ranges = entities
    .filter((entity) => entity.type === "spoiler")
    .map((entity) => [entity.offset, entity.offset + entity.length] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push(range);
  }
  let out = "";
  let position = 0;
  for (const [start, end] of merged) {
    out += text.slice(position, start) + SPOILER_MASK;
    position = end;
  }
  return out + text.slice(position);
}
