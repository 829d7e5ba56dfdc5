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
const WILDCARDS = new Map<string, "stream" | "topic">([
  ["all", "stream"],
  ["everyone", "stream"],
  ["channel", "stream"],
  ["stream", "stream"],
  ["topic", "topic"],
]);

interface Rendering {
  html: string;
  visible: string;
  full: string;
}

const FENCE = /^\s*(`{3,}|~{3,})\s*([^\s`~]*)\s*(.*)$/;

/**
 * Renders the subset of Zulip Markdown a bot's replies use: paragraphs with line breaks, backslash escapes, inline
 * code, bold, italics, strike-through, links, user and wildcard mentions (`@**Name**`, `@**Name|id**`, silent
 * `@_**Name**`), fenced code blocks and ```spoiler Header blocks.
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
        `<div class="spoiler-block"><div class="spoiler-header">\n${header.html ? `<p>${header.html}</p>\n` : ""}</div>` +
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

interface Inline {
  html: string;
  visible: string;
}

// Markdown lets a backslash escape any ASCII punctuation character.
const ESCAPABLE = /[!-/:-@[-`{-~]/;
const MENTION = /^@(_?)\*\*([^*|]+?)(?:\|(\d+))?\*\*/;
const LINK = /^\[([^\]]*)\]\(([^)\s]+)\)/;
const EMPHASIS: [string, string][] = [
  ["**", "strong"],
  ["~~", "del"],
  ["*", "em"],
];

/**
 * One line of inline Markdown, scanned left to right so that what comes first wins, as in Markdown: backslash
 * escapes, code spans of any backtick count, mentions, links, bold, strike-through and italics (Zulip has no
 * underscore emphasis).
 */
function renderInline(text: string, users: MentionDirectory, mentions: Mentions): Inline {
  let html = "";
  let visible = "";
  let plain = "";
  const emit = (part: Inline) => {
    html += escapeHtml(plain) + part.html;
    visible += plain + part.visible;
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const next = text[i + 1] ?? "";
    if (text[i] === "\\" && ESCAPABLE.test(next)) {
      plain += next;
      i += 2;
      continue;
    }
    if (text[i] === "`") {
      const fence = /^`+/.exec(rest)?.[0] ?? "`";
      const close = findCodeClose(text, i + fence.length, fence.length);
      if (close === -1) {
        plain += fence;
        i += fence.length;
        continue;
      }
      let code = text.slice(i + fence.length, close);
      // A space on both sides lets code start or end with a backtick; Markdown strips one of each.
      if (code.length >= 2 && code.startsWith(" ") && code.endsWith(" ") && code.trim() !== "")
        code = code.slice(1, -1);
      emit({ html: `<code>${escapeHtml(code)}</code>`, visible: code });
      i = close + fence.length;
      continue;
    }
    const match = MENTION.exec(rest);
    const mention = match ? renderMention(match, users, mentions) : undefined;
    if (match && mention) {
      emit(mention);
      i += match[0].length;
      continue;
    }
    const link = LINK.exec(rest);
    if (link) {
      const inner = renderInline(link[1] ?? "", users, mentions);
      emit({ html: `<a href="${escapeHtml(link[2] ?? "")}">${inner.html}</a>`, visible: inner.visible });
      i += link[0].length;
      continue;
    }
    const emphasis = EMPHASIS.find(([marker]) => rest.startsWith(marker));
    if (emphasis) {
      const [marker, tag] = emphasis;
      const close = findEmphasisClose(text, i + marker.length, marker);
      const inner = close === -1 ? "" : text.slice(i + marker.length, close);
      if (inner.trim() !== "" && inner.trim() === inner) {
        const part = renderInline(inner, users, mentions);
        emit({ html: `<${tag}>${part.html}</${tag}>`, visible: part.visible });
        i = close + marker.length;
        continue;
      }
    }
    plain += text[i];
    i++;
  }
  emit({ html: "", visible: "" });
  return { html, visible };
}

/**
 * A mention as Zulip renders it, or undefined when it names nobody (then Zulip leaves the text to the other inline
 * rules, so `@**Nobody**` reads "@" and a bold "Nobody"). `@**Name|id**` must carry that user's exact name.
 */
function renderMention(match: RegExpExecArray, users: MentionDirectory, mentions: Mentions): Inline | undefined {
  const [, silent, name = "", id] = match;
  const wildcard = id === undefined ? WILDCARDS.get(name) : undefined;
  const user = wildcard ? undefined : id !== undefined ? users.byId(Number(id)) : users.byFullName(name);
  if (wildcard) {
    if (!silent) mentions.wildcards.add(wildcard);
    // A topic wildcard names no one; a channel wildcard carries the id "*".
    const [classes, idAttribute] =
      wildcard === "topic" ? ["topic-mention", ""] : ["user-mention channel-wildcard-mention", ' data-user-id="*"'];
    const text = silent ? name : `@${name}`;
    return {
      html: `<span class="${classes}${silent ? " silent" : ""}"${idAttribute}>${escapeHtml(text)}</span>`,
      visible: text,
    };
  }
  if (!user || (id !== undefined && user.fullName !== name)) return undefined;
  if (!silent) mentions.users.add(user.id);
  const text = silent ? user.fullName : `@${user.fullName}`;
  return {
    html: `<span class="user-mention${silent ? " silent" : ""}" data-user-id="${user.id}">${escapeHtml(text)}</span>`,
    visible: text,
  };
}

/** Where a code span opened by `length` backticks closes: the next run of exactly that many. */
function findCodeClose(text: string, from: number, length: number): number {
  const runs = text.slice(from).matchAll(/`+/g);
  for (const run of runs) if (run[0].length === length) return from + run.index;
  return -1;
}

/** Where an emphasis closes: the next unescaped marker (a lone `*` for italics, not half of `**`). */
function findEmphasisClose(text: string, from: number, marker: string): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === "\\") {
      j++;
      continue;
    }
    if (text.startsWith(marker, j) && (marker !== "*" || text[j + 1] !== "*")) return j;
  }
  return -1;
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}
