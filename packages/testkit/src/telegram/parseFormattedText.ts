import type { TgMessageEntity } from "./TelegramTypes.js";

export interface FormattedText {
  text: string;
  entities: TgMessageEntity[];
}

/** A text Telegram refuses; `message` is the Bot API description ("Bad Request: can't parse entities: ..."). */
export class FormatError extends Error {}

/**
 * The plain text and entities Telegram makes of `text` under `parseMode` (HTML, MarkdownV2 or the legacy
 * Markdown), with its errors for what it refuses. Offsets are in UTF-16 code units, as in the Bot API.
 */
export function parseFormattedText(text: string, parseMode: string | undefined): FormattedText {
  switch (parseMode?.toLowerCase()) {
    case undefined:
    case "":
      return { text, entities: [] };
    case "markdownv2":
      return parseMarkdownV2(text);
    case "markdown":
      return parseMarkdownLegacy(text);
    case "html":
      return parseHtml(text);
    default:
      throw new FormatError(`Bad Request: unsupported parse_mode "${parseMode}"`);
  }
}

const fail = (problem: string): never => {
  throw new FormatError(`Bad Request: can't parse entities: ${problem}`);
};

const byteOffset = (source: string, index: number): number => Buffer.byteLength(source.slice(0, index));

interface Open {
  type: string;
  start: number;
  token: string;
  sourceIndex: number;
}

const MARKDOWN_V2_NAMES: Record<string, string> = {
  bold: "Bold",
  italic: "Italic",
  underline: "Underline",
  strikethrough: "Strikethrough",
  spoiler: "Spoiler",
  text_link: "TextUrl",
  custom_emoji: "CustomEmoji",
  blockquote: "Blockquote",
};

// Telegram's MarkdownV2 (core.telegram.org/bots/api#markdownv2-style): these must be escaped outside entities.
const RESERVED = new Set("_*[]()~`>#+-=|{}.!");

function parseMarkdownV2(source: string): FormattedText {
  let out = "";
  const entities: TgMessageEntity[] = [];
  const stack: Open[] = [];
  let quote: { start: number } | undefined;
  const closeQuote = () => {
    if (quote === undefined) return;
    const end = out.endsWith("\n") ? out.length - 1 : out.length;
    if (end > quote.start) entities.push({ type: "blockquote", offset: quote.start, length: end - quote.start });
    quote = undefined;
  };
  const toggle = (type: string, token: string, index: number) => {
    const top = stack.at(-1);
    if (top?.type === type) {
      stack.pop();
      if (out.length > top.start) entities.push({ type, offset: top.start, length: out.length - top.start });
      return;
    }
    if (stack.some((open) => open.type === type)) {
      fail(`Can't find end of ${MARKDOWN_V2_NAMES[type]} entity at byte offset ${byteOffset(source, index)}`);
    }
    stack.push({ type, start: out.length, token, sourceIndex: index });
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    const atLineStart = i === 0 || source[i - 1] === "\n";
    if (atLineStart && (c === ">" || source.startsWith("**>", i))) {
      if (quote === undefined) quote = { start: out.length };
      i += c === ">" ? 1 : 3;
      continue;
    }
    if (atLineStart && quote !== undefined) closeQuote();
    if (c === "\\") {
      const next = source.charCodeAt(i + 1);
      if (!(next >= 1 && next <= 126)) fail(`Character '\\' is reserved and must be escaped with the preceding '\\'`);
      out += source[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      const pre = source.startsWith("```", i);
      const tokenLength = pre ? 3 : 1;
      let j = i + tokenLength;
      let language: string | undefined;
      if (pre) {
        const newline = source.indexOf("\n", j);
        const firstLine = newline < 0 ? "" : source.slice(j, newline);
        if (newline >= 0 && /^[^\s`\\]+$/.test(firstLine)) {
          language = firstLine;
          j = newline + 1;
        } else if (source[j] === "\n") j += 1;
      }
      const start = out.length;
      for (;;) {
        if (j >= source.length) {
          fail(`Can't find end of ${pre ? "Pre" : "Code"} entity at byte offset ${byteOffset(source, i)}`);
        }
        if (source[j] === "\\") {
          out += source[j + 1] ?? "";
          j += 2;
          continue;
        }
        if (source.startsWith(pre ? "```" : "`", j)) break;
        out += source[j];
        j += 1;
      }
      if (out.length > start) {
        entities.push({
          type: pre ? "pre" : "code",
          offset: start,
          length: out.length - start,
          ...(language === undefined ? {} : { language }),
        });
      }
      i = j + tokenLength;
      continue;
    }
    if (c === "*") {
      toggle("bold", "*", i);
      i += 1;
      continue;
    }
    if (c === "_") {
      const underline = source[i + 1] === "_" && stack.at(-1)?.type !== "italic";
      toggle(underline ? "underline" : "italic", underline ? "__" : "_", i);
      i += underline ? 2 : 1;
      continue;
    }
    if (c === "~") {
      toggle("strikethrough", "~", i);
      i += 1;
      continue;
    }
    if (c === "|" && source[i + 1] === "|") {
      toggle("spoiler", "||", i);
      i += 2;
      continue;
    }
    if (c === "[" || (c === "!" && source[i + 1] === "[")) {
      const type = c === "!" ? "custom_emoji" : "text_link";
      stack.push({ type, start: out.length, token: c, sourceIndex: i });
      i += c === "!" ? 2 : 1;
      continue;
    }
    if (c === "]" && (stack.at(-1)?.type === "text_link" || stack.at(-1)?.type === "custom_emoji")) {
      const open = stack.pop() as Open;
      if (source[i + 1] !== "(") fail(`Can't find end of a URL at byte offset ${byteOffset(source, i)}`);
      let j = i + 2;
      let url = "";
      while (j < source.length && source[j] !== ")") {
        if (source[j] === "\\") j += 1;
        url += source[j] ?? "";
        j += 1;
      }
      if (j >= source.length) fail(`Can't find end of a URL at byte offset ${byteOffset(source, i)}`);
      if (out.length > open.start) {
        const entity: TgMessageEntity = { type: open.type, offset: open.start, length: out.length - open.start };
        if (open.type === "custom_emoji") entity.custom_emoji_id = new URL(url).searchParams.get("id") ?? "";
        else entity.url = url;
        entities.push(entity);
      }
      i = j + 1;
      continue;
    }
    if (RESERVED.has(c)) {
      fail(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
    }
    out += c;
    i += 1;
  }
  const unclosed = stack.at(-1);
  if (unclosed !== undefined) {
    fail(
      `Can't find end of ${MARKDOWN_V2_NAMES[unclosed.type]} entity at byte offset ${byteOffset(source, unclosed.sourceIndex)}`,
    );
  }
  closeQuote();
  return { text: out, entities: sortEntities(entities) };
}

// The legacy Markdown mode: *bold*, _italic_, `code`, ```pre```, [text](url); no escaping of other characters.
function parseMarkdownLegacy(source: string): FormattedText {
  let out = "";
  const entities: TgMessageEntity[] = [];
  let i = 0;
  const pairs: Record<string, string> = { "*": "bold", _: "italic" };
  while (i < source.length) {
    const c = source[i] as string;
    if (c === "\\" && "*_`[".includes(source[i + 1] ?? "")) {
      out += source[i + 1];
      i += 2;
      continue;
    }
    const pairType = pairs[c];
    const code = c === "`" ? (source.startsWith("```", i) ? "```" : "`") : undefined;
    const token = code ?? (pairType === undefined ? undefined : c);
    if (token !== undefined) {
      const end = source.indexOf(token, i + token.length);
      if (end < 0) fail(`Can't find end of the entity starting at byte offset ${byteOffset(source, i)}`);
      const inner = source.slice(i + token.length, end);
      const start = out.length;
      out += inner;
      const type = code === "```" ? "pre" : code === "`" ? "code" : (pairType as string);
      if (inner.length > 0) entities.push({ type, offset: start, length: inner.length });
      i = end + token.length;
      continue;
    }
    const link = c === "[" ? /^\[([^\]]*)\]\(([^)]*)\)/.exec(source.slice(i)) : null;
    if (link !== null) {
      const [whole, label = "", url = ""] = link;
      entities.push({ type: "text_link", offset: out.length, length: label.length, url });
      out += label;
      i += whole.length;
      continue;
    }
    out += c;
    i += 1;
  }
  return { text: out, entities: sortEntities(entities) };
}

const HTML_TAGS: Record<string, string> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  "tg-spoiler": "spoiler",
  a: "text_link",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  "tg-emoji": "custom_emoji",
  span: "spoiler",
};

const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

interface OpenTag {
  tag: string;
  entity: TgMessageEntity;
  sourceIndex: number;
}

function parseHtml(source: string): FormattedText {
  let out = "";
  const entities: TgMessageEntity[] = [];
  const stack: OpenTag[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === "&") {
      const match = /^&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/i.exec(source.slice(i));
      const name = match?.[1];
      const decoded =
        name === undefined
          ? undefined
          : name.startsWith("#x") || name.startsWith("#X")
            ? String.fromCodePoint(Number.parseInt(name.slice(2), 16))
            : name.startsWith("#")
              ? String.fromCodePoint(Number.parseInt(name.slice(1), 10))
              : NAMED_ENTITIES[name.toLowerCase()];
      if (decoded !== undefined && match !== null) {
        out += decoded;
        i += match[0].length;
        continue;
      }
      out += c;
      i += 1;
      continue;
    }
    if (c !== "<") {
      out += c;
      i += 1;
      continue;
    }
    const end = source.indexOf(">", i);
    if (end < 0) fail(`Unclosed start tag at byte offset ${byteOffset(source, i)}`);
    const inside = source.slice(i + 1, end);
    if (inside.startsWith("/")) {
      const tag = inside.slice(1).trim().toLowerCase();
      const open = stack.pop();
      if (open === undefined || open.tag !== tag) {
        fail(
          `Unmatched end tag at byte offset ${byteOffset(source, i)}, expected "</${open?.tag ?? ""}>", found "</${tag}>"`,
        );
      }
      const entity = (open as OpenTag).entity;
      entity.length = out.length - entity.offset;
      if (entity.length > 0) entities.push(entity);
      i = end + 1;
      continue;
    }
    const tagMatch = /^([a-z-]+)\s*(.*)$/is.exec(inside);
    const tag = tagMatch?.[1]?.toLowerCase() ?? "";
    const attributes = parseAttributes(tagMatch?.[2] ?? "");
    const type = HTML_TAGS[tag];
    if (type === undefined || (tag === "span" && attributes.get("class") !== "tg-spoiler")) {
      fail(`Unsupported start tag "${tag}" at byte offset ${byteOffset(source, i)}`);
    }
    const entity: TgMessageEntity = { type: type as string, offset: out.length, length: 0 };
    if (tag === "a") {
      const href = attributes.get("href");
      if (href === undefined) fail(`Tag "a" must have attribute "href" at byte offset ${byteOffset(source, i)}`);
      entity.url = href;
    }
    if (tag === "tg-emoji") entity.custom_emoji_id = attributes.get("emoji-id") ?? "";
    if (tag === "blockquote" && attributes.has("expandable")) entity.type = "expandable_blockquote";
    // <pre><code class="language-x"> is one pre entity with a language, not pre plus code.
    const parent = stack.at(-1);
    const language = attributes.get("class")?.replace(/^language-/, "");
    if (tag === "code" && parent?.tag === "pre" && parent.entity.offset === out.length && language !== undefined) {
      parent.entity.language = language;
      stack.push({ tag, entity: { ...entity, type: "merged" }, sourceIndex: i });
    } else stack.push({ tag, entity, sourceIndex: i });
    i = end + 1;
  }
  const unclosed = stack.at(-1);
  if (unclosed !== undefined) {
    fail(`Can't find end tag corresponding to start tag "${unclosed.tag}"`);
  }
  return { text: out, entities: sortEntities(entities.filter((entity) => entity.type !== "merged")) };
}

function parseAttributes(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of text.matchAll(/([a-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+)))?/gi)) {
    const name = (match[1] as string).toLowerCase();
    const value = match[2] ?? match[3] ?? match[4] ?? "";
    attributes.set(
      name,
      value
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&"),
    );
  }
  return attributes;
}

function sortEntities(entities: TgMessageEntity[]): TgMessageEntity[] {
  return entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
}
