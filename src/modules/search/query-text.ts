// What a shopper types is only ever text. It reaches PostgreSQL as bind parameters of
// websearch_to_tsquery (which accepts any input but a run of bare '-': see cleanText) and,
// for the last word, to_tsquery on
// a string we build ourselves from letters and digits only plus ':*'. No character of
// the input is ever interpreted as tsquery syntax by our code.

export interface ParsedText {
  /** The text before the prefix word (all of it when there is none), for websearch_to_tsquery. */
  head: string
  /** The last word while the shopper may still be typing it: letters and digits only. */
  prefix: string | null
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
// After a space, or after a hyphen inside a word ("t-sh" while typing "t-shirt": PostgreSQL
// indexes the parts of a hyphenated word too, so "t" and the prefix "sh" find it). A '-'
// after a space is an exclusion, and stays whole.
const LAST_BARE_WORD = /(^|\s|(?<=[\p{L}\p{N}])-)([\p{L}\p{N}]+)$/u
const WORD = /[\p{L}\p{N}]+/gu
/** websearch_to_tsquery's OR: the word "or" (any case) between two words. */
const AFTER_OR = /(^|\s)or$/i
/** Shorter prefixes expand to too many index terms to be worth it. */
const MIN_PREFIX = 2
const MAX_CORRECTED_WORDS = 8

/** A '-' that excludes nothing: not followed by a word or a "phrase". */
const BARE_MINUS = /-(?![\p{L}\p{N}"])/gu

/**
 * Removes control characters (PostgreSQL refuses NUL in text) and bare '-' and collapses
 * whitespace. 33 bare '-' in a row (a pasted separator line) make websearch_to_tsquery fail
 * with "tsquery stack too small", and they mean nothing: "t-shirt" and "-boot" keep theirs.
 */
export function cleanText(raw: string): string {
  return raw.normalize('NFC').replace(CONTROL, ' ').replace(BARE_MINUS, ' ').replace(/\s+/g, ' ').trim()
}

/**
 * Splits off the last word for prefix matching (search as you type). Not when the text
 * ends in a space (the word is finished), inside an open "phrase", in an exclusion ('-' after
 * a space: a whole word, hyphenated or not), or after "or": the prefix is ANDed with the rest, so
 * "boot or tent" would become boot AND tent and find nothing.
 */
export function parseText(raw: string): ParsedText {
  const text = cleanText(raw)
  const finished = /\s$/.test(raw.replace(CONTROL, ' '))
  const quotes = (text.match(/"/g) ?? []).length
  const match = LAST_BARE_WORD.exec(text)
  const excluded = /(^|\s)-\S*$/.test(text)
  if (finished || excluded || quotes % 2 === 1 || !match) return { head: text, prefix: null }
  const head = text.slice(0, match.index).trim()
  if (AFTER_OR.test(head)) return { head: text, prefix: null }
  if (match[2].length < MIN_PREFIX) {
    // One letter just typed after other words ("sleeping b"): too short to expand, and as a
    // whole word it found nothing, so each new word emptied the results for a keystroke.
    // It narrows nothing yet, as a stop word does. Alone it is the query.
    return match[1] === ' ' ? { head, prefix: null } : { head: text, prefix: null }
  }
  return { head, prefix: match[2] }
}

/** The tsquery text for the prefix: safe because the word holds letters and digits only. */
export function prefixQuery(prefix: string): string {
  if (!/^[\p{L}\p{N}]+$/u.test(prefix)) throw new Error('a prefix is letters and digits only')
  return `${prefix}:*`
}

/**
 * Lower case as PostgreSQL's lower() makes it (libc or the builtin provider: one character
 * for one, simple case mapping), for text compared with what it lower-cased (term keys,
 * names). JavaScript's toLowerCase maps a few by context or to two characters: "İ" became
 * "i" plus a combining dot, and "İpek" found no completion that "ipek" found.
 */
export function lowerLikePostgres(text: string): string {
  let lowered = ''
  for (const c of text) {
    const mapped = c.toLowerCase()
    lowered += mapped.length === c.length ? mapped : String.fromCodePoint(mapped.codePointAt(0)!)
  }
  return lowered
}

/** Lower-cased words worth checking for typos (3 letters or more). */
export function wordsOf(text: string): string[] {
  const words = (lowerLikePostgres(text).match(WORD) ?? []).filter((w) => w.length >= 3)
  return [...new Set(words)].slice(0, MAX_CORRECTED_WORDS)
}

/** Words up to this long also get their one-edit neighbours looked up (editsOf). */
export const MAX_EDITED_LENGTH = 12
const EDIT_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

/** One edit away from a word; `swap` marks two neighbouring letters exchanged. */
export interface Edit {
  word: string
  swap: boolean
}

/**
 * Every word one edit from `word` (Damerau: two neighbouring letters swapped, one letter
 * dropped, changed or added), 3 letters or longer, each once. Trigram similarity misses
 * these in short words: "tnet" and "tent" share one trigram of nine (0.11), yet one swap
 * apart. A swap comes first where a word can be reached both ways.
 */
export function editsOf(word: string): Edit[] {
  const letters = [...word] // code points, not UTF-16 units
  const n = letters.length
  const head = (i: number) => letters.slice(0, i).join('')
  const tail = (i: number) => letters.slice(i).join('')
  const found = new Map<string, boolean>()
  const add = (candidate: string, length: number, swap: boolean) => {
    if (length >= 3 && candidate !== word && !found.has(candidate)) found.set(candidate, swap)
  }
  for (let i = 0; i + 1 < n; i++) add(head(i) + letters[i + 1] + letters[i] + tail(i + 2), n, true)
  for (let i = 0; i <= n; i++) {
    const before = head(i)
    const from = tail(i)
    const after = tail(i + 1)
    if (i < n) add(before + after, n - 1, false)
    for (const c of EDIT_ALPHABET) {
      if (i < n) add(before + c + after, n, false)
      add(before + c + from, n + 1, false)
    }
  }
  return [...found].map(([text, swap]) => ({ word: text, swap }))
}

/** The text with words replaced by their corrections, everything else kept as typed. */
export function applyCorrections(text: string, corrections: Map<string, string>): string {
  return text.replace(WORD, (word) => corrections.get(lowerLikePostgres(word)) ?? word)
}

/** Normalizes a completion prefix the way search.terms keys are stored; a trailing space is kept (a finished word). */
export function prefixKey(text: string): string {
  return lowerLikePostgres(text.normalize('NFC').replace(CONTROL, ' ').replace(/\s+/g, ' ').trimStart())
}
