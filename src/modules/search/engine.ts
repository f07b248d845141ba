// The ports of the search module. PostgreSQL implements them today (pg-search.ts,
// pg-index.ts); an OpenSearch adapter would implement the same two interfaces and be
// chosen in index.ts, leaving the routes, the typo fallback and the indexer untouched.

export type SearchSort = 'relevance' | 'price_asc' | 'price_desc' | 'newest'
export const SEARCH_SORTS: readonly SearchSort[] = ['relevance', 'price_asc', 'price_desc', 'newest']

export interface SearchFilters {
  /** Category slug path; includes its subcategories. */
  category?: string
  /** Any of these brands. */
  brands?: string[]
  /** Inclusive bounds on the shown ("from") price, minor units. */
  minPrice?: number
  maxPrice?: number
  /** true: only products with a variant in stock. */
  inStock?: boolean
}

/** Where a page starts: after the item with this sort key and id. */
export interface SortPosition {
  key: string
  id: string
}

/**
 * How text matches. `fulltext`: every word (stemmed), "phrases", -exclusions, the last word
 * as a prefix. `similar`: the typo fallback, near spellings of names and brands, plus the
 * full-text matches of the corrected text when there is one.
 */
export type Matching = { kind: 'fulltext' } | { kind: 'similar'; corrected: string | null }

export interface SearchRequest {
  /** Cleaned query text (see query-text.ts); '' browses. */
  text: string
  matching: Matching
  filters: SearchFilters
  sort: SearchSort
  limit: number
  after: SortPosition | null
}

export interface ProductSummary {
  id: string
  slug: string
  name: string
  brand: string
  category: string
  price: { amount: number; currency: string }
  image: string | null
  inStock: boolean
}

export interface FacetValue {
  value: string
  count: number
}

export interface PriceBucket {
  /** Inclusive lower bound, minor units. */
  min: number
  /** Exclusive upper bound; null for the open-ended top bucket. */
  max: number | null
  count: number
}

export interface Facets {
  category: FacetValue[]
  brand: FacetValue[]
  price: PriceBucket[]
}

export interface SearchPage {
  items: ProductSummary[]
  /** Position of the last item when more follow, else null. */
  next: SortPosition | null
  total: number
  /** True when `total` (and the facet counts) are estimated from a sample. */
  totalIsEstimate: boolean
  facets: Facets
}

export interface Suggestion {
  text: string
  kind: 'name' | 'brand'
}

export interface Correction {
  /** False when some word is not in the index: a typo, or a word no product uses. */
  allWordsKnown: boolean
  /** The text with unknown words replaced by the nearest known ones; null when none is near. */
  corrected: string | null
}

/** The read side. */
export interface SearchEngine {
  search(request: SearchRequest): Promise<SearchPage>
  /** Checks the words against the index's vocabulary and proposes the nearest known ones. */
  correct(text: string): Promise<Correction>
  /** Names and brands that start with `prefix`, brands first. */
  suggest(prefix: string, limit: number): Promise<Suggestion[]>
}

/** One product as the index holds it. */
export interface IndexDocument {
  productId: string
  slug: string
  name: string
  brand: string
  category: string
  description: string
  image: string | null
  currency: string
  minPrice: number
  maxPrice: number
  inStock: boolean
  /** ISO 8601 in UTC, to the microsecond. */
  createdAt: string
  /** The catalog's updated_at (ISO, to the microsecond): a write carrying an older one than the index holds is ignored. */
  sourceUpdatedAt: string
}

/** The write side. */
export interface SearchIndex {
  /** Serializes concurrent writers of these products until the surrounding transaction ends. */
  lock(productIds: string[]): Promise<void>
  /** Upserts documents (keeping the newest state) and removes ids, completions included. */
  apply(changes: { upserts: IndexDocument[]; removals: string[] }): Promise<void>
  /** Bulk load: upserts without maintaining completions (finishLoad recounts them). */
  load(documents: IndexDocument[]): Promise<void>
  /** Bulk load: drops documents with ids in (afterId, throughId] that are not in `keep`. */
  removeMissing(afterId: string, throughId: string | null, keep: string[]): Promise<number>
  /**
   * After a bulk load: recounts completions and the spelling vocabulary, refreshes
   * statistics, and with `layOut` (a first build, nobody searching yet) lays the documents
   * out for reading.
   */
  finishLoad(options: { layOut: boolean }): Promise<void>
  count(): Promise<number>
}
