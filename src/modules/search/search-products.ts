// GET /store/search as a story: validate, search the full text, and when that finds
// almost nothing because of a typo, search near spellings and say what the shopper
// probably meant.
import { validationFailed } from '../../platform/http/errors.ts'
import { decodeCursor, encodeCursor, fingerprint, type CursorState } from './cursor.ts'
import type { Matching, SearchEngine, SearchFilters, SearchPage, SearchRequest } from './engine.ts'
import { cleanText } from './query-text.ts'
import type { SearchAnswerT, SearchQueryInput } from './schemas.ts'

/** Fewer full-text results than this on a first page may trigger the typo fallback. */
export const FEW_RESULTS = 3

/** Text longer than this is not compared with names by trigrams when no word of it was corrected (the longest names are about this long). */
export const MAX_SIMILAR_TEXT = 64

/** A validated search: everything that can be refused with a 400 has been checked. */
export interface PreparedSearch {
  request: Omit<SearchRequest, 'matching'>
  cursor: CursorState | null
  fingerprint: string
}

export function prepareSearch(input: SearchQueryInput): PreparedSearch {
  if (input.minPrice !== undefined && input.maxPrice !== undefined && input.minPrice > input.maxPrice) {
    throw validationFailed([{ path: 'minPrice', message: 'must not be above maxPrice' }])
  }
  // A trailing space says the last word is finished (no prefix match): cleaning keeps one.
  const raw = input.q ?? ''
  const cleaned = cleanText(raw)
  const text = cleaned !== '' && /\s$/.test(raw) ? `${cleaned} ` : cleaned
  const filters: SearchFilters = {
    ...(input.category && { category: input.category }),
    ...(input.brand?.length && { brands: [...new Set(input.brand.map((b) => b.trim()))].sort() }),
    ...(input.minPrice !== undefined && { minPrice: input.minPrice }),
    ...(input.maxPrice !== undefined && { maxPrice: input.maxPrice }),
    ...(input.inStock && { inStock: true }),
  }
  const sort = input.sort ?? 'relevance'
  const queryFingerprint = fingerprint(text, filters, sort)
  const cursor = input.cursor ? decodeCursor(input.cursor, sort, queryFingerprint) : null
  return {
    request: { text, filters, sort, limit: input.limit ?? 20, after: cursor?.position ?? null },
    cursor,
    fingerprint: queryFingerprint,
  }
}

function answer(page: SearchPage, matching: Matching, queryFingerprint: string): SearchAnswerT {
  return {
    items: page.items,
    total: page.total,
    totalIsEstimate: page.totalIsEstimate,
    facets: page.facets,
    nextCursor: page.next ? encodeCursor({ position: page.next, mode: matching.kind }, queryFingerprint) : null,
    ...(matching.kind === 'similar' && matching.corrected ? { didYouMean: matching.corrected } : {}),
  }
}

export async function searchProducts(engine: SearchEngine, prepared: PreparedSearch): Promise<SearchAnswerT> {
  const { request: base, cursor, fingerprint: queryFingerprint } = prepared
  // A later page stays in the mode its first page was answered in (the typo fallback
  // corrects the text again: the cursor does not carry it).
  if (cursor) {
    const matching: Matching = cursor.mode === 'similar' ? { kind: 'similar', corrected: (await engine.correct(base.text)).corrected } : { kind: 'fulltext' }
    return answer(await engine.search({ ...base, matching }), matching, queryFingerprint)
  }

  const fulltext: Matching = { kind: 'fulltext' }
  const page = await engine.search({ ...base, matching: fulltext })
  if (base.text === '' || page.total >= FEW_RESULTS) return answer(page, fulltext, queryFingerprint)

  // Few results. Near spellings are worth a look only when a word is not in the index (a
  // typo); a query of known words with few or no answers has its true answer already.
  const { allWordsKnown, corrected } = await engine.correct(base.text)
  if (allWordsKnown) return answer(page, fulltext, queryFingerprint)
  // Nothing near the words, and more text than a name: no name looks like all of it, and
  // its trigrams against every name cost up to a second (a line of gibberish, sent a few
  // times at once, timed out into the breaker and took search down for everyone).
  if (corrected === null && base.text.length > MAX_SIMILAR_TEXT) return answer(page, fulltext, queryFingerprint)
  const similar: Matching = { kind: 'similar', corrected }
  const fallback = await engine.search({ ...base, matching: similar })
  return fallback.total > page.total ? answer(fallback, similar, queryFingerprint) : answer(page, fulltext, queryFingerprint)
}
