import { describe, expect, it } from "vitest";
import { FormatError, parseFormattedText } from "../src/index.js";

describe("parseFormattedText", () => {
  it("reads MarkdownV2 entities, escapes and a pre block with its language", () => {
    expect(parseFormattedText("*b* _i_ __u__ ~s~ ||sp|| [link](https://x.test/a\\)b) \\*lit\\*", "MarkdownV2")).toEqual(
      {
        text: "b i u s sp link *lit*",
        entities: [
          { type: "bold", offset: 0, length: 1 },
          { type: "italic", offset: 2, length: 1 },
          { type: "underline", offset: 4, length: 1 },
          { type: "strikethrough", offset: 6, length: 1 },
          { type: "spoiler", offset: 8, length: 2 },
          { type: "text_link", offset: 11, length: 4, url: "https://x.test/a)b" },
        ],
      },
    );
    expect(parseFormattedText("```js\nlet a = 1;\n```", "MarkdownV2")).toEqual({
      text: "let a = 1;\n",
      entities: [{ type: "pre", offset: 0, length: 11, language: "js" }],
    });
  });

  it("refuses what Telegram refuses in MarkdownV2", () => {
    expect(() => parseFormattedText("a-b", "MarkdownV2")).toThrow(FormatError);
    expect(() => parseFormattedText("a-b", "MarkdownV2")).toThrow(
      "Bad Request: can't parse entities: Character '-' is reserved and must be escaped with the preceding '\\'",
    );
    expect(() => parseFormattedText("*open", "MarkdownV2")).toThrow(/Can't find end of Bold entity at byte offset 0/);
  });

  it("reads HTML tags and character references, and refuses unknown tags", () => {
    expect(
      parseFormattedText(
        '<b>1 &lt; 2</b> <a href="https://x.test/?a=1&amp;b=2">l</a> <span class="tg-spoiler">s</span>',
        "HTML",
      ),
    ).toEqual({
      text: "1 < 2 l s",
      entities: [
        { type: "bold", offset: 0, length: 5 },
        { type: "text_link", offset: 6, length: 1, url: "https://x.test/?a=1&b=2" },
        { type: "spoiler", offset: 8, length: 1 },
      ],
    });
    expect(parseFormattedText('<pre><code class="language-py">x</code></pre>', "HTML").entities).toEqual([
      { type: "pre", offset: 0, length: 1, language: "py" },
    ]);
    expect(() => parseFormattedText("<blink>x</blink>", "HTML")).toThrow(/Unsupported start tag "blink"/);
    expect(() => parseFormattedText("<b>x</i>", "HTML")).toThrow(/Unmatched end tag/);
  });

  it("counts offsets in UTF-16 code units, as the Bot API does", () => {
    expect(parseFormattedText("😀 *x*", "MarkdownV2").entities).toEqual([{ type: "bold", offset: 3, length: 1 }]);
  });
});
