import { describe, expect, it } from "vitest";
import { type MentionDirectory, renderMessage } from "../src/zulip/renderMessage.js";

const people = [
  { id: 7, fullName: "TOTP Bot" },
  { id: 8, fullName: "Alice Doe" },
];
const directory: MentionDirectory = {
  byId: (id) => people.find((p) => p.id === id),
  byFullName: (name) => people.find((p) => p.fullName.toLowerCase() === name.toLowerCase()),
};

describe("renderMessage", () => {
  it("hides a spoiler's body from the visible text and keeps its header", () => {
    const rendered = renderMessage("```spoiler Code for github\n**123 456**\n```", directory);
    expect(rendered.visibleText).toBe("Code for github");
    expect(rendered.fullText).toBe("Code for github\n123 456");
    expect(rendered.spoilers).toEqual([{ header: "Code for github", body: "**123 456**" }]);
  });

  it("keeps a longer fence open across an inner one, and runs an unclosed fence to the end", () => {
    const nested = renderMessage("````spoiler outer\n```\ninner code\n```\n````\nafter", directory);
    expect(nested.spoilers).toEqual([{ header: "outer", body: "```\ninner code\n```" }]);
    expect(nested.visibleText).toBe("outer\nafter");
    expect(nested.html).toContain("<code>inner code\n</code>");
    const unclosed = renderMessage("```spoiler\n654321", directory);
    expect(unclosed.spoilers).toEqual([{ header: "", body: "654321" }]);
    expect(unclosed.visibleText).toBe("");
    expect(unclosed.html).toBe(
      '<div class="spoiler-block"><div class="spoiler-header">\n</div><div class="spoiler-content" aria-hidden="true">\n<p>654321</p>\n</div></div>',
    );
  });

  it("reads mentions by name or name|id, not inside code, and not silent ones as mentions", () => {
    const rendered = renderMessage(
      "@**totp bot** and @**Alice Doe|8** `@**Alice Doe**` @_**Alice Doe** @**Nobody** @**Someone|8**",
      directory,
    );
    expect(rendered.mentionedIds).toEqual([7, 8]);
    // A mention of nobody is left to the other rules: "@" and a bold name.
    expect(rendered.visibleText).toBe("@TOTP Bot and @Alice Doe @**Alice Doe** Alice Doe @Nobody @Someone|8");
    expect(rendered.html).toContain('<span class="user-mention" data-user-id="7">@TOTP Bot</span>');
    expect(rendered.html).toContain('<span class="user-mention silent" data-user-id="8">Alice Doe</span>');
    expect(rendered.html).toContain("<code>@**Alice Doe**</code>");
    expect(rendered.html).toContain("@<strong>Nobody</strong>");
  });

  it("tells channel and topic wildcards apart, ignoring silent ones", () => {
    expect(renderMessage("@**everyone** hi", directory).wildcard).toBe("stream");
    expect(renderMessage("@**topic** hi", directory).wildcard).toBe("topic");
    expect(renderMessage("@_**all** hi", directory).wildcard).toBeUndefined();
    expect(renderMessage("@**all** @**topic** @_**all**", directory).html).toBe(
      '<p><span class="user-mention channel-wildcard-mention" data-user-id="*">@all</span> ' +
        '<span class="topic-mention">@topic</span> ' +
        '<span class="user-mention channel-wildcard-mention silent" data-user-id="*">all</span></p>',
    );
  });

  it("honours backslash escapes, longer code fences, emphasis and links", () => {
    const escaped = renderMessage(
      "\\*\\*not bold\\*\\* \\_x\\_ \\[y\\] \\`z\\` @\\*\\*TOTP Bot\\*\\*\n\\# 1\\.",
      directory,
    );
    expect(escaped.visibleText).toBe("**not bold** _x_ [y] `z` @**TOTP Bot**\n# 1.");
    expect(escaped.mentionedIds).toEqual([]);
    expect(escaped.html).not.toContain("<strong>");
    const code = renderMessage("send `` a`b `` or `x`", directory);
    expect(code.html).toBe("<p>send <code>a`b</code> or <code>x</code></p>");
    const styled = renderMessage("**bold** *and italic* ~~gone~~ [the docs](https://example.com/a?b=1)", directory);
    expect(styled.html).toBe(
      '<p><strong>bold</strong> <em>and italic</em> <del>gone</del> <a href="https://example.com/a?b=1">the docs</a></p>',
    );
    expect(styled.visibleText).toBe("bold and italic gone the docs");
    expect(renderMessage("2 * 3 * 4 and a lone ` tick", directory).visibleText).toBe("2 * 3 * 4 and a lone ` tick");
  });

  it("escapes HTML and breaks lines inside a paragraph", () => {
    expect(renderMessage('a <b> & "c"\nnext\n\nnew', directory).html).toBe(
      "<p>a &lt;b&gt; &amp; &quot;c&quot;<br>\nnext</p>\n<p>new</p>",
    );
  });
});
