// Cursors are opaque to clients. Inside: the sort, the last item's sort key and id, a
// fingerprint of the query it belongs to (a cursor from another query is refused rather
// than silently answering nonsense), and whether the first page was the typo fallback, so
// the following pages stay in the same mode. Not the corrected text: a client could edit
// it into a query of its own (or into syntax PostgreSQL fails on), and cursors are not
// signed. Later pages correct the text again.
import { createHash } from 'node:crypto'
import { validationFailed } from '../../platform/http/errors.ts'
import { isReadableUtcTime } from '../../platform/iso-time.ts'
import type { Matching, SearchFilters, SearchSort, SortPosition } from './engine.ts'

export interface CursorState {
  position: SortPosition
  /** The first page's mode: `similar` (the typo fallback) corrects the text again. */
  mode: Matching['kind']
}

interface Payload {
  v: 1
  f: string
  k: string
  i: string
  /** 1: the typo fallback. */
  s?: 1
}

const ID = /^[0-9]{1,18}$/
const KEY_BY_SORT: Record<SearchSort, RegExp> = {
  relevance: /^-?[0-9]{1,19}$/,
  price_asc: /^[0-9]{1,19}$/,
  price_desc: /^[0-9]{1,19}$/,
  newest: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
}

const BIGINT_MAX = 2n ** 63n - 1n
const fitsBigint = (key: string) => {
  const value = BigInt(key)
  return value <= BIGINT_MAX && value >= -BIGINT_MAX - 1n
}

/** Identifies the query a cursor was given out for. */
export function fingerprint(text: string, filters: SearchFilters, sort: SearchSort): string {
  const canonical = JSON.stringify([text, filters.category ?? null, [...(filters.brands ?? [])].sort(), filters.minPrice ?? null, filters.maxPrice ?? null, filters.inStock ?? false, sort])
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16)
}

export function encodeCursor(state: CursorState, queryFingerprint: string): string {
  const payload: Payload = { v: 1, f: queryFingerprint, k: state.position.key, i: state.position.id }
  if (state.mode === 'similar') payload.s = 1
  return Buffer.from(JSON.stringify(payload)).toString('base64url')
}

const refuse = (message: string) => validationFailed([{ path: 'cursor', message }])

export function decodeCursor(cursor: string, sort: SearchSort, queryFingerprint: string): CursorState {
  let payload: Partial<Payload>
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url')
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<Payload>
  } catch {
    throw refuse('is not a cursor this API gave out')
  }
  if (typeof payload !== 'object' || payload === null || payload.v !== 1) throw refuse('is not a cursor this API gave out')
  if (typeof payload.k !== 'string' || !KEY_BY_SORT[sort].test(payload.k) || typeof payload.i !== 'string' || !ID.test(payload.i)) {
    throw refuse(`is not a cursor for sort=${sort}`)
  }
  if (payload.f !== queryFingerprint) throw refuse('belongs to another query; start again without it')
  // Anything else in it was not written by encodeCursor (cursors once carried the corrected
  // text, as `c`: those are refused too, and the client starts again from the first page).
  const known = new Set(['v', 'f', 'k', 'i', 's'])
  if ((payload.s !== undefined && payload.s !== 1) || Object.keys(payload).some((key) => !known.has(key))) throw refuse('is not a cursor this API gave out')
  // What PostgreSQL can read back: a bigint, a year from 1 (else a 22xxx error, not a 400).
  if (sort === 'newest' ? !isReadableUtcTime(payload.k) : !fitsBigint(payload.k)) {
    throw refuse('is not a cursor this API gave out')
  }
  return { position: { key: payload.k, id: payload.i }, mode: payload.s === 1 ? 'similar' : 'fulltext' }
}
