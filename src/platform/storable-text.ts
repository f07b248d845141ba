// Text PostgreSQL can store: `text` refuses U+0000, and `jsonb` refuses a lone UTF-16
// surrogate (JSON.stringify writes one as the escape "\udc00", which jsonb's parser rejects).
// Input that carries either is refused with a 400 where it arrives, never a 500 from the database.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why PostgreSQL could not store this text, or null. */
export function unstorable(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain a NUL character (U+0000)'
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate'
  return null
}
