import type { ChatReply, CodeDisplay } from "@totp-custody/chat";
import { describe, expect, it } from "vitest";
import { escapeMarkdown, renderExpired, renderReply } from "../src/renderReply.js";

const code: CodeDisplay = {
  label: "github",
  code: "492039",
  issuer: "GitHub",
  account: "me",
  period: 30,
  validUntil: new Date(30_000),
  serverTime: new Date(7_000),
  expiresAt: new Date(30_000),
};

describe("Zulip rendering of the core's replies", () => {
  it("puts the code only in a spoiler's body, after the label line, with the time left and the refresh command", () => {
    const reply: ChatReply = {
      paragraphs: [
        [
          { kind: "text", text: "Code for " },
          { kind: "label", text: "github" },
        ],
        [{ kind: "text", text: "Valid for 23 more seconds." }],
      ],
      code,
      buttons: [[{ text: "Refresh", action: { kind: "refresh", label: "github" } }]],
    };
    const lines = renderReply(reply).split("\n");
    expect(lines).toEqual([
      "Code for **github**",
      "```spoiler Show the code",
      "`492039`",
      "```",
      "Valid for 23 more seconds.",
      "Refresh: send `code github`",
    ]);
    expect(lines.filter((line) => line.includes("492039"))).toEqual(["`492039`"]);
  });

  it("writes buttons as the commands that do the same, and leaves out cancel", () => {
    const reply: ChatReply = {
      paragraphs: [[{ kind: "text", text: "Remove it?" }]],
      buttons: [
        [
          { text: "Remove", action: { kind: "confirmRemove", label: "old.one" } },
          { text: "Cancel", action: { kind: "cancelRemove", label: "old.one" } },
        ],
      ],
    };
    expect(renderReply(reply)).toBe("Remove it?\nRemove: send `remove old.one confirm`");
  });

  it("says whether the message that carried a seed was deleted, or asks the user to delete it", () => {
    const reply: ChatReply = { paragraphs: [[{ kind: "text", text: "Stored." }]], deleteUserMessage: true };
    expect(renderReply(reply, { userMessageDeleted: true })).toBe(
      "Stored.\nI deleted your message: it carried a seed.",
    );
    expect(renderReply(reply, { userMessageDeleted: false })).toMatch(/I could not delete your message: delete it/);
  });

  it("escapes text so that it cannot become a mention, a link, emphasis, code or a list", () => {
    expect(escapeMarkdown("@**Alice** [x](y) _a_ `b`")).toBe("@\\*\\*Alice\\*\\* \\[x\\](y) \\_a\\_ \\`b\\`");
    expect(escapeMarkdown("# title")).toBe("\\# title");
    expect(escapeMarkdown("1. first")).toBe("1\\. first");
    expect(escapeMarkdown("a - b")).toBe("a - b");
    const reply: ChatReply = { paragraphs: [[{ kind: "command", text: "code `x`" }]] };
    expect(renderReply(reply)).toBe("`` code `x` ``");
  });

  it("turns an expired code message into a line without the code", () => {
    expect(renderExpired(code)).toBe("The code for **github** has expired. Send `code github` for a new one.");
  });
});
