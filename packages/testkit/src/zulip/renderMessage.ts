/** A message's Markdown as Zulip shows it: HTML, the text a reader sees, spoilers and mentions. */
export interface RenderedMessage {
  html: string;
  /** Spoiler bodies hidden, headers shown: what is readable before a click. */
  visibleText: string;
  /** Every spoiler opened. */
  fullText: string;
  spoilers: { header: string; body: string }[];
  /** Users named by a non-silent mention. */
  mentionedIds: number[];
  /** A non-silent wildcard mention: @**all**, @**everyone**, @**channel**, @**stream** or @**topic**. */
  wildcard?: "stream" | "topic";
}

/** How a mention names a user: by id when the mention carries one, else by full name. */
export interface MentionDirectory {
  byId(id: number): { id: number; fullName: string } | undefined;
  byFullName(name: string): { id: number; fullName: string } | undefined;
}

type Block =
  | { kind: "paragraph"; lines: string[] }
  | { kind: "code"; language: string; text: string }
  | { kind: "spoiler"; header: string; body: string; children: Block[] };

interface Mentions {
  users: Set<number>;
  wildcards: Set<"stream" | "topic">;
}

// The names Zulip reads as a mention of everyone in the channel, or of the topic's participants.
const WILDCARDS: Record<string, "stream" | "topic"> = {
  all: "stream",
  everyone: "stream",
  channel: "stream",
  stream: "stream",
  topic: "topic",
};

interface Rendering {
  html: string;
  visible: string;
  full: string;
}

const FENCE = /^\s*(`{3,}|~{3,})\s*([^\s`~]*)\s*(.*)$/;
// Inline code first, so that a mention or bold inside backticks stays literal, as in Zulip.
const INLINE = /`([^`]+)`|@(_?)\*\*([^*|]+?)(?:\|(\d+))?\*\*|\*\*([^*]+)\*\*/g;

/**
 * Renders the subset of Zulip Markdown a bot's replies use: paragraphs with line breaks, inline code, bold, user
 * mentions (`@**Name**`, `@**Name|id**`, silent `@_**Name**`), fenced code blocks and ```spoiler Header blocks.
 */
export function renderMessage(content: string, users: MentionDirectory): RenderedMessage {
  const spoilers: { header: string; body: string }[] = [];
  const mentions: Mentions = { users: new Set(), wildcards: new Set() };
  const blocks = parseBlocks(content.split("\n"));
  const rendering = renderBlocks(blocks, users, mentions, spoilers);
  const wildcard = mentions.wildcards.has("stream") ? "stream" : mentions.wildcards.has("topic") ? "topic" : undefined;
  return {
    html: rendering.html,
    visibleText: rendering.visible,
    fullText: rendering.full,
    spoilers,
    mentionedIds: [...mentions.users],
    ...(wildcard ? { wildcard } : {}),
  };
}

function parseBlocks(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ kind: "paragraph", lines: paragraph });
    paragraph = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const marker = fence[1] ?? "```";
      const closing = new RegExp(`^\\s*\\${marker[0]}{${marker.length},}\\s*$`);
      let end = i + 1;
      while (end < lines.length && !closing.test(lines[end] ?? "")) end++;
      // An unclosed fence runs to the end of the message, as Zulip renders it.
      const body = lines.slice(i + 1, end);
      const language = fence[2] ?? "";
      if (language.toLowerCase() === "spoiler") {
        blocks.push({
          kind: "spoiler",
          header: (fence[3] ?? "").trim(),
          body: body.join("\n"),
          children: parseBlocks(body),
        });
      } else {
        blocks.push({ kind: "code", language, text: body.join("\n") });
      }
      i = end + 1;
    } else if (line.trim() === "") {
      flush();
      i++;
    } else {
      paragraph.push(line);
      i++;
    }
  }
  flush();
  return blocks;
}

function renderBlocks(
  blocks: Block[],
  users: MentionDirectory,
  mentions: Mentions,
  spoilers: { header: string; body: string }[],
): Rendering {
  const parts = blocks.map((block): Rendering => {
    if (block.kind === "paragraph") {
      const lines = block.lines.map((line) => renderInline(line, users, mentions));
      const text = lines.map((l) => l.visible).join("\n");
      return { html: `<p>${lines.map((l) => l.html).join("<br>\n")}</p>`, visible: text, full: text };
    }
    if (block.kind === "code") {
      const language = block.language ? ` data-code-language="${escapeHtml(block.language)}"` : "";
      return {
        html: `<div class="codehilite"${language}><pre><span></span><code>${escapeHtml(block.text)}\n</code></pre></div>`,
        visible: block.text,
        full: block.text,
      };
    }
    spoilers.push({ header: block.header, body: block.body });
    const header = renderInline(block.header, users, mentions);
    const inner = renderBlocks(block.children, users, mentions, spoilers);
    return {
      html:
        `<div class="spoiler-block"><div class="spoiler-header">\n${header.html ? `<p>${header.html}</p>` : ""}\n</div>` +
        `<div class="spoiler-content" aria-hidden="true">\n${inner.html}\n</div></div>`,
      visible: header.visible,
      full: [header.visible, inner.full].filter((t) => t !== "").join("\n"),
    };
  });
  return {
    html: parts.map((p) => p.html).join("\n"),
    visible: parts.map((p) => p.visible).join("\n"),
    full: parts.map((p) => p.full).join("\n"),
  };
}

function renderInline(text: string, users: MentionDirectory, mentions: Mentions): { html: string; visible: string } {
  let html = "";
  let visible = "";
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const plain = text.slice(last, match.index);
    html += escapeHtml(plain);
    visible += plain;
    last = match.index + match[0].length;
    const [whole, code, silent, name, id, bold] = match;
    if (code !== undefined) {
      html += `<code>${escapeHtml(code)}</code>`;
      visible += code;
    } else if (bold !== undefined) {
      html += `<strong>${escapeHtml(bold)}</strong>`;
      visible += bold;
    } else {
      const user = id !== undefined ? users.byId(Number(id)) : users.byFullName(name ?? "");
      const wildcard = user || id !== undefined ? undefined : WILDCARDS[(name ?? "").toLowerCase()];
      if (wildcard) {
        if (!silent) mentions.wildcards.add(wildcard);
        const kind = wildcard === "topic" ? "topic-mention" : "channel-wildcard-mention";
        html += `<span class="${silent ? "user-mention silent" : `user-mention ${kind}`}" data-user-id="*">${silent ? "" : "@"}${escapeHtml(name ?? "")}</span>`;
        visible += `${silent ? "" : "@"}${name}`;
      } else if (!user) {
        // Zulip leaves a mention of nobody as the text that was typed.
        html += escapeHtml(whole);
        visible += whole;
      } else if (silent) {
        html += `<span class="user-mention silent" data-user-id="${user.id}">${escapeHtml(user.fullName)}</span>`;
        visible += user.fullName;
      } else {
        mentions.users.add(user.id);
        html += `<span class="user-mention" data-user-id="${user.id}">@${escapeHtml(user.fullName)}</span>`;
        visible += `@${user.fullName}`;
      }
    }
  }
  const rest = text.slice(last);
  return { html: html + escapeHtml(rest), visible: visible + rest };
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}
