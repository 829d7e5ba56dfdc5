const URI = /otpauth(-migration)?:\/\//i;
const BASE32_TOKEN = /^[a-z2-7]+=*$/i;
/** A secret of 10 bytes, the least totp-core accepts, is 16 base32 characters; 128 bytes, the most, 205. */
const MIN_SECRET_CHARS = 16;
const MAX_SECRET_CHARS = 205;
/** Group sizes apps use to show a secret for typing (3 to 8; mostly 4). */
const MIN_GROUP = 3;
const MAX_GROUP = 8;

/**
 * Whether a run of base32 characters is a secret rather than words: a random secret almost always holds a digit
 * 2-7 or is written in capitals (the apps show it so), while words and labels are lower-case letters. A
 * lower-case, letters-only secret of 16 characters slips through about once in 28 (1 in 800 at 32 characters);
 * telling those from words is not possible, and `add` treats whatever follows its label as a seed anyway.
 */
function looksRandom(run: string): boolean {
  const chars = run.replace(/[\s=]/g, "");
  return chars.length >= MIN_SECRET_CHARS && (/[2-7]/.test(chars) || !/[a-z]/.test(chars));
}

const WHITESPACE = /\s/;

/** Whether a character code is one a word keeps at its edges: a letter, a digit or base32 padding. */
const isWordChar = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x3d;

/** `token` without the punctuation around it: that is the sentence's ("my key is ABCD ... WXYZ."), not the secret's. */
function trimPunctuation(token: string): string {
  let start = 0;
  let end = token.length;
  while (start < end && !isWordChar(token.charCodeAt(start))) start++;
  while (end > start && !isWordChar(token.charCodeAt(end - 1))) end--;
  return start === 0 && end === token.length ? token : token.slice(start, end);
}

/**
 * The words of `text`, trimmed, empty ones left out. The audit log checks every id and name it writes, nearly all
 * of them a single word, so that case skips the split.
 */
function wordsOf(text: string): string[] {
  const words = WHITESPACE.test(text) ? text.split(/\s+/) : [text];
  const trimmed: string[] = [];
  for (const word of words) {
    const kept = trimPunctuation(word);
    if (kept !== "") trimmed.push(kept);
  }
  return trimmed;
}

/**
 * Whether `text` is, or contains, a seed: an otpauth:// or otpauth-migration:// URI anywhere, or a base32 secret of
 * 16 or more characters, whole or in groups (`JBSW Y3DP EHPK 3PXP`, as authenticator setup pages show it),
 * padded or not. Used so that a seed sent anywhere, even by mistake, gets its message deleted.
 */
export function looksLikeSeed(text: string): boolean {
  if (URI.test(text)) return true;
  const tokens = wordsOf(text);
  for (let start = 0; start < tokens.length; start++) {
    const first = tokens[start] as string;
    if (!BASE32_TOKEN.test(first)) continue;
    if (looksRandom(first)) return true;
    if (first.length < MIN_GROUP || first.length > MAX_GROUP) continue;
    // Groups: tokens of one length (the last may be shorter), as a secret is shown for typing.
    let run = first;
    for (let i = start + 1; i < tokens.length && run.length <= MAX_SECRET_CHARS; i++) {
      const token = tokens[i] as string;
      if (!BASE32_TOKEN.test(token) || token.length > first.length) break;
      run += token;
      if (looksRandom(run)) return true;
      if (token.length < first.length) break;
    }
  }
  return false;
}
