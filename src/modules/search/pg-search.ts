// The PostgreSQL search engine (read side): full-text search with weighted ranking, the
// trigram typo fallback, facets and keyset pages, each answer in one statement.
// Spelling corrections and completions read the vocabulary (pg-vocabulary.ts).
import type postgres from 'postgres'
import type { Db, Sql } from '../../platform/db/index.ts'
import type { Matching, ProductSummary, SearchEngine, SearchFilters, SearchPage, SearchRequest, SortPosition } from './engine.ts'
import { facetsOf, PRICE_BOUNDS, type Group } from './facets.ts'
import { correctWords, suggestTerms } from './pg-vocabulary.ts'
import { lowerLikePostgres, parseText, prefixQuery } from './query-text.ts'

export interface PgSearchOptions {
  sql: Sql
  /** Server-side limit per search statement: a slow search is cancelled, not left running. */
  statementTimeoutMs: number
  /**
   * A pool whose sessions start with searchSessionSettings(): each search is then one
   * statement, one round trip. Without one (the embedded database) every search runs in a
   * transaction that sets them first.
   */
  searchSql?: Sql | null
  /** Matches counted exactly before the total becomes an estimate (EXACT_TOTAL_LIMIT; tests set fewer). */
  exactTotalLimit?: number
}

/** Up to this many matches are counted (and ranked, and faceted) exactly; beyond it, estimated. */
export const EXACT_TOTAL_LIMIT = 10_000
/** At most this many known words stand in for a typed prefix. */
const PREFIX_EXPANSIONS = 20
/** An exact (case-insensitive) name match outranks any ts_rank. */
const EXACT_NAME_BOOST = 1_000_000_000
/** word_similarity needed for the typo fallback on names and brands ("trialrunner" ~ "Trailrunner": 0.5). */
const WORD_SIMILARITY = '0.5'
/** Enough for ranking, facets and sorts over EXACT_TOTAL_LIMIT matches without spilling to disk. */
const WORK_MEM = '32MB'

type Fragment = postgres.PendingQuery<postgres.Row[]>

/**
 * The tsquery for `text`: websearch syntax for the words, and the last word as a prefix.
 * The prefix becomes the word itself or the known words (of names, brands, categories)
 * that start with it, and, while it is no whole word itself, the lexemes (of whole
 * documents, descriptions included: "clea" finds what "clean" finds) that do; the most
 * common first, at most PREFIX_EXPANSIONS (a rare completion of a short prefix is left out,
 * as a search engine's max_expansions does). A whole word typed ("pack") is not stretched
 * into the longer words of descriptions ("packaging"): its own and its names' completions
 * are what a shopper typing it means, and a common description word cost every such query
 * another long posting list (10 % more PostgreSQL time over the bench's queries). GIN looks
 * those up as exact keys, where a 'word':* partial match would scan and merge whole posting
 * lists (50 ms instead of 8 ms at 1 M products). The word itself stays in: a shopper who typed a
 * whole word ("day") means it, and the vocabulary only knows the longer words it begins
 * ("daypack"). Each stem goes in once ("lighting" and "light" are both 'light'): the
 * planner, estimating a broad query's total, counts a repeated alternative as another
 * chance to match. A prefix nothing known starts with gets the partial match. Stems of
 * vocabulary words (split on [^[:alnum:]]) and counted lexemes are letters and digits
 * only, so joining them with ' | ' is safe.
 *
 * `rank` is the query to score matches with: the prefix as a partial match, which ts_rank
 * reads from each document alone. Scored with the expansion, every score moved with the
 * vocabulary (ts_rank of an OR divides among its alternatives: 0.30 with two, 0.20 with
 * three), so one new product anywhere changed the scores of unchanged ones, and a
 * relevance cursor (a score and an id) given out before found its place among other scores:
 * the next page repeated items or skipped them.
 */
function tsquery(db: Db, text: string, options: { prefix: boolean } = { prefix: true }): { match: Fragment; rank: Fragment } {
  const { head, prefix } = options.prefix ? parseText(text) : { head: text, prefix: null }
  const words = db`websearch_to_tsquery('english', ${head})`
  if (!prefix) return { match: words, rank: words }
  const partial = db`to_tsquery('english', ${prefixQuery(prefix)})`
  const key = lowerLikePostgres(prefix)
  const startsWith = db`(
    select case when bool_or(known and stem is not null) then to_tsquery('simple', string_agg(distinct stem, ' | '))
                else ${partial} end
    from (
      -- A key range, not LIKE: the statement's generic plan cannot turn LIKE $1 into a range
      -- of the primary key, and read every lexeme instead (1.8 ms a search, not 0.03).
      select true as known, kind, term_key as word from (
        select kind, term_key from search.terms
        where kind in ('word', 'lexeme') and term_key >= ${key} and term_key < ${key} || chr(1114111) and products > 0
          and (kind = 'word' or not exists (
            select 1 from search.terms whole where whole.kind in ('word', 'lexeme') and whole.term_key = ${key} and whole.products > 0))
        order by products desc limit ${PREFIX_EXPANSIONS}) completions
      union all
      select false, 'word', ${key}
    ) words
    -- A word is stemmed; a lexeme is a stem already (stemmed again, it could change).
    left join lateral unnest(case when kind = 'lexeme' then array[word] else tsvector_to_array(to_tsvector('english', word)) end) as stem on true)`
  if (!head) return { match: startsWith, rank: partial }
  // A stop word as the last word ("tent in", "jacket wi") may be a word still being typed
  // ("insulated") or one that is done and means nothing to search ("in"): it narrows nothing.
  // Matched through its completions alone, "tent in" found only the insulated tents.
  const match = db`(case when to_tsvector('english', ${prefix}) = ''::tsvector then ${words} else (${words} && ${startsWith}) end)`
  return { match, rank: db`(${words} && ${partial})` }
}

/** Whether the correction of `text` left its last word, a prefix, as it was typed. */
function keepsPrefix(text: string, corrected: string): boolean {
  const typed = parseText(text).prefix
  return typed !== null && parseText(corrected).prefix === typed
}

interface Match {
  /** The select list of the one-row CTE `q`: each tsquery is computed once per search. */
  queries: Fragment
  /** The row condition and the score, reading the tsqueries from `q`. */
  match: Fragment
  score: Fragment
}

// Every tsquery is built once, in a one-row CTE `q` that the statement joins: written
// inline, a generic plan would rebuild it (and look up the prefix words) for every matched
// row, and a custom plan would spend tens of ms estimating it. From `q` the GIN index is
// still used (a nested loop with a parameterized bitmap scan).
function matchAndScore(db: Db, text: string, matching: Matching): Match {
  const query = tsquery(db, text)
  if (matching.kind === 'fulltext') {
    // The exact-name test runs on every match. lower() converts each name to wide characters
    // and back (about 4 % of a search); lower() maps character to character, so a name of
    // another length can never equal the text, and its length is checked first. A trailing
    // space (a finished last word) is no part of the name.
    const name = text.trim()
    return {
      queries: db`${query.match} as tsq, ${query.rank} as ranked_tsq`,
      match: db`d.document @@ q.tsq`,
      score: db`((case when char_length(d.name) = ${[...name].length} and lower(d.name) = ${lowerLikePostgres(name)} then ${EXACT_NAME_BOOST} else 0 end)
                 + round(ts_rank(d.document, q.ranked_tsq) * 1000000))::bigint`,
    }
  }
  if (matching.corrected) {
    // The corrected words are whole words: full-text search on them (and on what was typed).
    // A last word still being typed and left as it was ("hikin boo" -> "hiking boo") stays a
    // prefix: matched whole, "boo" found nothing, and neither did the search.
    const corrected = tsquery(db, matching.corrected, { prefix: keepsPrefix(text, matching.corrected) })
    return {
      queries: db`(${corrected.match} || ${query.match}) as tsq, ${corrected.rank} as ranked_tsq`,
      match: db`d.document @@ q.tsq`,
      score: db`round(ts_rank(d.document, q.ranked_tsq) * 1000000)::bigint`,
    }
  }
  // No known word is near: names and brands that look like what was typed (trigram GIN indexes).
  return {
    queries: db`${query.match} as tsq, ${query.rank} as ranked_tsq`,
    match: db`(d.document @@ q.tsq or ${text} <% d.name or ${text} <% d.brand)`,
    score: db`(case when d.document @@ q.tsq then ${EXACT_NAME_BOOST} + round(ts_rank(d.document, q.ranked_tsq) * 1000000)
                    else round(greatest(word_similarity(${text}, d.name), word_similarity(${text}, d.brand)) * 1000000)
               end)::bigint`,
  }
}

/**
 * The filters as conditions. With a text match (`afterMatch`) they only filter the rows the
 * full-text index found: written as expressions no btree index serves, because the planner
 * would otherwise AND the text's bitmap with a price or category index bitmap covering a
 * third of the catalog, and building that bitmap cost more than the whole rest of the search
 * (measured at 1 M products: about 40 % of PostgreSQL's CPU). Browsing (no text) uses them.
 */
function filtersOf(db: Db, f: SearchFilters, afterMatch: boolean): Fragment {
  const category = afterMatch ? db`(d.category_path || '')` : db`d.category_path`
  const brand = afterMatch ? db`(d.brand || '')` : db`d.brand`
  const price = afterMatch ? db`(d.min_price + 0)` : db`d.min_price`
  // Category paths are validated slugs ([a-z0-9-/]): no LIKE wildcards can get in.
  return db`
    ${f.category ? db`and (${category} = ${f.category} or ${category} like ${f.category + '/%'})` : db``}
    ${f.brands?.length ? db`and ${brand} = any(${f.brands}::text[])` : db``}
    ${f.minPrice !== undefined ? db`and ${price} >= ${f.minPrice}` : db``}
    ${f.maxPrice !== undefined ? db`and ${price} <= ${f.maxPrice}` : db``}
    ${f.inStock ? db`and d.in_stock` : db``}`
}

interface Ordering {
  /** The item's sort key as text, for the cursor. */
  key: Fragment
  by: Fragment
  after: (position: SortPosition) => Fragment
}

function orderingOf(db: Db, request: SearchRequest): Ordering {
  switch (request.sort) {
    case 'relevance':
      if (request.text === '') {
        // Nothing to rank by: newest products (highest ids) first.
        return { key: db`product_id::text`, by: db`product_id desc`, after: (p) => db`product_id < ${p.id}::bigint` }
      }
      return { key: db`score::text`, by: db`score desc, product_id desc`, after: (p) => db`(score, product_id) < (${p.key}::bigint, ${p.id}::bigint)` }
    case 'price_asc':
      return { key: db`min_price::text`, by: db`min_price, product_id`, after: (p) => db`(min_price, product_id) > (${p.key}::bigint, ${p.id}::bigint)` }
    case 'price_desc':
      return { key: db`min_price::text`, by: db`min_price desc, product_id desc`, after: (p) => db`(min_price, product_id) < (${p.key}::bigint, ${p.id}::bigint)` }
    case 'newest':
      return {
        key: db`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        by: db`created_at desc, product_id desc`,
        // As text: a timestamptz parameter goes through a Date in postgres.js, which keeps
        // milliseconds, and the products after the key in the same millisecond would be skipped.
        after: (p) => db`(created_at, product_id) < (${p.key}::text::timestamptz, ${p.id}::bigint)`,
      }
  }
}

/**
 * The matches counted per (leaf category, brand, price bucket) as one JSON column: one
 * pass over the matches leaves a few hundred groups, and the three facets are sums over
 * those (facetsOf), cheaper in JavaScript than three more aggregates in the statement.
 */
const GROUPS = (db: Db) => db`
  coalesce((select json_agg(json_build_array(category_path, brand, bucket, n)) from groups), '[]') as groups`

/** The page as one JSON column, in sort order. */
const ITEMS = (db: Db, ordering: Ordering) => db`
  coalesce((select json_agg(json_build_object(
    'id', product_id::text, 'slug', slug, 'name', name, 'brand', brand, 'category', category_path,
    'amount', min_price, 'currency', currency, 'image', image, 'inStock', in_stock, 'key', ${ordering.key}
  ) order by ${ordering.by}) from page), '[]') as items`

const SUMMARY_COLUMNS = (db: Db) => db`d.product_id, d.slug, d.name, d.brand, d.category_path, d.image, d.currency, d.min_price, d.in_stock, d.created_at`

interface ItemJson {
  id: string
  slug: string
  name: string
  brand: string
  category: string
  amount: number
  currency: string
  image: string | null
  inStock: boolean
  key: string
}

interface AnswerRow {
  groups: Group[]
  items: ItemJson[]
  /** The heap block of the last counted match (matches are read in block order). */
  lastBlock: number | null
}

/** `counted`: the matches the groups hold; `total`: that, or past EXACT_TOTAL_LIMIT the estimate. */
function toPage(row: AnswerRow, limit: number, counted: number, total = counted): SearchPage {
  const more = row.items.length > limit
  const items = row.items.slice(0, limit)
  const last = items[items.length - 1]
  // Past the exact limit the counts come from the first matches in the table's order, an
  // even sample of the catalog (pg-index.ts, finishLoad): scale them to the estimate.
  const scale = counted > 0 ? total / counted : 1
  const facets = facetsOf(row.groups, (n) => Math.round(n * scale))
  return {
    items: items.map(
      (i): ProductSummary => ({
        id: i.id,
        slug: i.slug,
        name: i.name,
        brand: i.brand,
        category: i.category,
        price: { amount: Number(i.amount), currency: i.currency.trim() },
        image: i.image,
        inStock: i.inStock,
      }),
    ),
    next: more && last ? { key: last.key, id: last.id } : null,
    total,
    totalIsEstimate: false,
    facets,
  }
}

/** The parts of a search statement, shared by the follow-up statements past the exact limit. */
interface Statement extends Match {
  filters: Fragment
  after: Fragment
}

/** The one-row CTE `q` holding the search's tsqueries (see matchAndScore). */
const QUERIES = (db: Db, queries: Fragment) => db`q as materialized (select ${queries})`

/**
 * Past the exact limit, relevance ranks only a sample of the matches. A product named
 * exactly what was typed outranks them all (EXACT_NAME_BOOST), so it is looked up on its
 * own (an index on lower(name)) and still comes first: "iphone 15" among 30,000 cases.
 */
async function exactNameItems(db: Db, text: string, ordering: Ordering, { queries, match, score, filters, after }: Statement): Promise<ItemJson[]> {
  const [row] = await db<{ items: ItemJson[] }[]>`
    with ${QUERIES(db, queries)},
    page as (
      select * from (
        select ${SUMMARY_COLUMNS(db)}, ${score} as score from q, search.documents d
        where lower(d.name) = ${lowerLikePostgres(text.trim())} and ${match} ${filters}
      ) named where ${after}
    )
    select ${ITEMS(db, ordering)}`
  return row.items
}

/**
 * How many documents match, from the counted ones. With words, the matches come from the
 * full-text index through a bitmap, which reads the table in block order, and the table's
 * stripes spread every kind of product evenly over it: the counted matches were found in
 * the first (lastBlock + 1) blocks, so the whole table holds about counted * blocks /
 * (lastBlock + 1). The planner's estimate assumes the words independent, and
 * "sleeping bag", two words that go together, came out below the 10,000 counted (31,000
 * match); the sample's estimate was within 1.5 % for "tent" (30,860 against 31,232).
 */
async function estimateFromSample(db: Db, counted: number, lastBlock: number | null): Promise<number> {
  const [{ blocks }] = await db<{ blocks: number }[]>`
    select (pg_relation_size('search.documents') / current_setting('block_size')::bigint)::int as blocks`
  return lastBlock === null ? counted : Math.round((counted * blocks) / (lastBlock + 1))
}

/**
 * Browsing (no words) reads its matches through whichever index serves the filters, not
 * in block order: the planner's estimate from its statistics of the plain columns (this
 * statement is only planned), which a few simple filters suit.
 */
async function estimateFromPlan(db: Db, filters: SearchFilters): Promise<number> {
  const [[plan], [table]] = await Promise.all([
    db<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }[]>`
      explain (format json) select 1 from search.documents d where true ${filtersOf(db, filters, false)}`,
    // The planner scales its row count by the table's pages, dead rows' too: after many
    // updates it guessed more matches than the table held (15,637 of 15,005). The rows its
    // last ANALYZE counted cap it (autovacuum analyzes again once a tenth of them changed).
    // Not the statistics' live rows: after a first build they said twice the rows there were.
    db<{ live: number | null }[]>`
      select nullif(greatest(c.reltuples, 0), 0)::float8 as live from pg_class c where c.oid = 'search.documents'::regclass`,
  ])
  const estimate = Math.round(plan['QUERY PLAN'][0].Plan['Plan Rows'])
  return table?.live ? Math.min(estimate, Math.round(table.live)) : estimate
}

/** Relevance order of two items: score, then id, both descending (as the statement sorts). */
function byRelevance(a: ItemJson, b: ItemJson): number {
  const [ka, kb] = [BigInt(a.key), BigInt(b.key)]
  if (ka !== kb) return ka > kb ? -1 : 1
  const [ia, ib] = [BigInt(a.id), BigInt(b.id)]
  return ia === ib ? 0 : ia > ib ? -1 : 1
}

/** Rows a sorted page may walk in its index order before it sorts all matches instead. */
const WALK_ROWS_PER_ITEM = 50

/**
 * A page in price or date order when there are more matches than were counted (so the
 * counted ones are only a sample). Walking the sort's index and keeping the rows that
 * match is fast when matches are common at that end of the order ("modern" by price: 0.7
 * ms) and hopeless when they are not (tents are expensive: "tent" by lowest price walked
 * 600,000 cheaper products, 1.6 s, and answered 503 after the search timeout). So the walk
 * gets a budget; a page it cannot fill from that many rows comes from sorting all the
 * matches (through the full-text index: 15-30 ms for 33,000 tents).
 */
async function pageBeyondSample(db: Db, ordering: Ordering, { queries, match, filters, after }: Statement, limit: number): Promise<ItemJson[]> {
  const walk = limit * WALK_ROWS_PER_ITEM
  const [walked] = await db<{ walked: number; items: ItemJson[] }[]>`
    with ${QUERIES(db, queries)},
    w as materialized (select d.* from search.documents d where ${after} order by ${ordering.by} limit ${walk}),
    page as (select ${SUMMARY_COLUMNS(db)}, 0::bigint as score from q, w d where ${match} ${filters} order by ${ordering.by} limit ${limit})
    select (select count(*)::int from w) as walked, ${ITEMS(db, ordering)}`
  // A full page, or the walk reached the end of the table: the page is exact.
  if (walked.items.length >= limit || walked.walked < walk) return walked.items
  // All the matches first (a materialized CTE: no index order to walk), then the page.
  const [sorted] = await db<{ items: ItemJson[] }[]>`
    with ${QUERIES(db, queries)},
    m as materialized (select d.product_id, d.min_price, d.created_at from q, search.documents d where ${match} ${filters}),
    top as (select product_id from m where ${after} order by ${ordering.by} limit ${limit}),
    page as (select ${SUMMARY_COLUMNS(db)}, 0::bigint as score from top join search.documents d using (product_id))
    select ${ITEMS(db, ordering)}`
  return sorted.items
}

/**
 * One statement answers the page, the count and the facets. Count and facets come from at
 * most `exactLimit` + 1 matches, and the page is sorted from those. Past that the total is
 * an estimate (estimateFromSample), the facet counts are scaled to it and `totalIsEstimate` says so;
 * relevance ranks the counted matches, and the other orders read their page from all the
 * matches (pageBeyondSample). The first matches are those first in the table, which is
 * laid out in stripes that each hold an even share of every category: a broad query's
 * sample spans the catalog.
 */
async function runSearch(db: Db, request: SearchRequest, exactLimit: number): Promise<SearchPage> {
  const ordering = orderingOf(db, request)
  const ranked = request.sort === 'relevance' && request.text !== ''
  const { queries, match, score } =
    request.text === '' ? { queries: db`null::tsquery as tsq`, match: db`true`, score: db`0::bigint` } : matchAndScore(db, request.text, request.matching)
  const filters = filtersOf(db, request.filters, request.text !== '')
  const after = request.after ? ordering.after(request.after) : db`true`
  const limit = request.limit + 1
  // `matched` holds only what counting, faceting and ranking need (narrow rows); the page's
  // few summaries are read by primary key.
  const [row] = await db<AnswerRow[]>`
    with ${QUERIES(db, queries)},
    matched as materialized (
      select d.ctid, d.product_id, d.brand, d.category_path, d.min_price, d.created_at, ${ranked ? score : db`0::bigint`} as score
      from q, search.documents d where ${match} ${filters}
      limit ${exactLimit + 1}
    ),
    groups as materialized (
      select category_path, brand, width_bucket(min_price, ${PRICE_BOUNDS}::bigint[]) as bucket, count(*) as n
      from matched group by 1, 2, 3
    ),
    page as (
      select ${SUMMARY_COLUMNS(db)}, m.score from (
        select product_id, score from matched where ${after} order by ${ordering.by} limit ${limit}
      ) m join search.documents d using (product_id)
    )
    select ${GROUPS(db)}, ${ITEMS(db, ordering)}, (select (max(ctid)::text::point)[0]::int from matched) as "lastBlock"`
  const counted = row.groups.reduce((sum, group) => sum + group[3], 0)
  if (counted <= exactLimit) return toPage(row, request.limit, counted)
  const estimate = Math.max(counted, request.text !== '' ? await estimateFromSample(db, counted, row.lastBlock) : await estimateFromPlan(db, request.filters))
  let items: ItemJson[]
  const statement = { queries, match, score, filters, after }
  if (!ranked) items = await pageBeyondSample(db, ordering, statement, limit)
  else if (request.matching.kind !== 'fulltext') items = row.items
  else {
    const named = await exactNameItems(db, request.text, ordering, statement)
    const ids = new Set(named.map((item) => item.id))
    items = [...named, ...row.items.filter((item) => !ids.has(item.id))].sort(byRelevance).slice(0, limit)
  }
  return { ...toPage({ ...row, items }, request.limit, counted, estimate), totalIsEstimate: true }
}

/**
 * A search visits one heap page per match, and the search table is meant to live in memory
 * (shared_buffers, or at worst the OS cache: README, "Search"). PostgreSQL's default
 * (effective_io_concurrency 1) still sends a prefetch hint, one posix_fadvise syscall, ahead
 * of every page a bitmap scan reads, with nothing to prefetch: strace at 1 M products
 * counted 33,096 hints for 34,259 page reads, 10-15 % of PostgreSQL's CPU per search.
 */
const PREFETCH = '0'

/** The session settings every search statement runs under; statement_timeout makes PostgreSQL give up too. */
export function searchSessionSettings(statementTimeoutMs: number): Record<string, string> {
  return {
    statement_timeout: String(statementTimeoutMs),
    'pg_trgm.word_similarity_threshold': WORD_SIMILARITY,
    work_mem: WORK_MEM,
    effective_io_concurrency: PREFETCH,
  }
}

export function createPgSearchEngine(options: PgSearchOptions): SearchEngine {
  const settings = Object.entries(searchSessionSettings(options.statementTimeoutMs))
  function run<T>(work: (db: Db) => Promise<T>): Promise<T> {
    if (options.searchSql) return work(options.searchSql)
    return options.sql.begin(async (tx) => {
      await tx`select set_config(name, value, true)
               from unnest(${settings.map(([name]) => name)}::text[], ${settings.map(([, value]) => value)}::text[]) as s(name, value)`
      return work(tx)
    }) as Promise<T>
  }

  return {
    search: (request) => run((db) => runSearch(db, request, options.exactTotalLimit ?? EXACT_TOTAL_LIMIT)),

    correct: (text) => run((db) => correctWords(db, text)),
    // A primary-key range read: one round trip, no transaction. On the search pool, whose
    // sessions carry search's statement_timeout: on the main pool a completion the breaker
    // had given up on held its connection for the platform's 10 s, and a few of them at once
    // (PostgreSQL slow, a lock) took the connections product pages load from.
    suggest: (prefix, limit) => suggestTerms(options.searchSql ?? options.sql, prefix, limit),
  }
}
