// Search load: `search` (two-word queries, facets included in every answer) and `suggest`
// (search-as-you-type prefixes). The bench seed writes no events, so the first of them to
// run builds the search index (the same bulk reindex as `npm run reindex`).
import { createModules } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { Platform } from '../../src/platform/index.ts'
import { connectKv } from '../../src/platform/kv/index.ts'
import { startLiveness } from '../../src/platform/liveness.ts'
import { createLogger } from '../../src/platform/telemetry/log.ts'
import { createMetrics } from '../../src/platform/telemetry/metrics.ts'
import { ADJECTIVES, allBrands, CATALOG, LINES } from '../../src/seed/words.ts'
import { getAll } from '../lib/http.ts'
import type { LoadContext, LoadScenario } from './types.ts'

const QUERIES = 400
const PREFIXES = 400
/** A shop's search box sees a few concurrent shoppers per core, not 64. */
const SEARCH_CONNECTIONS = Number(process.env.BENCH_SEARCH_CONNECTIONS ?? 16)

/**
 * Says how much of the search table PostgreSQL can hold in its own buffers: past that, every
 * query copies pages from the OS cache (at 1 M products with the default 128 MB about a
 * sixth of PostgreSQL's CPU per search), so uncached figures depend on it.
 */
async function reportBuffers(ctx: LoadContext): Promise<void> {
  const [row] = await ctx.sql<{ buffers: string; table: string; fits: boolean }[]>`
    select current_setting('shared_buffers') as buffers,
           pg_size_pretty(pg_total_relation_size('search.documents')) as table,
           pg_total_relation_size('search.documents') <= pg_size_bytes(current_setting('shared_buffers')) as fits`
  ctx.log(`PostgreSQL shared_buffers ${row.buffers}; search.documents with its indexes ${row.table}${row.fits ? '' : ' (does not fit: uncached searches read pages from the OS cache)'}`)
}

async function ensureIndex(ctx: LoadContext): Promise<void> {
  const [{ indexed }] = await ctx.sql<{ indexed: boolean }[]>`select exists (select 1 from search.documents) as indexed`
  if (indexed) return reportBuffers(ctx)
  ctx.log('building the search index (bulk reindex)')
  const config = loadConfig({ LOG_LEVEL: 'warn' })
  const kv = await connectKv(null, 'bench-reindex')
  const log = createLogger('warn')
  const platform = {
    config,
    log,
    metrics: createMetrics(false),
    sql: ctx.sql,
    kv,
    liveness: await startLiveness(kv, log),
    nats: null,
    embedded: null,
    readiness: {},
    reported: {},
    openPool: () => null,
    close: async () => {},
  } satisfies Platform
  const result = await createModules(platform).search.reindexAll()
  await platform.liveness.stop()
  await platform.kv.close()
  ctx.log(`indexed ${result.products.toLocaleString('en-US')} products in ${(result.ms / 1000).toFixed(1)} s`)
  await reportBuffers(ctx)
}

/**
 * A fixed spread of realistic two-word queries, each about one kind of product: a line,
 * adjective or material and a noun of the same leaf category ("waterproof boot", "linen
 * duvet"), with the department it belongs to for the filtered ones.
 */
export function searchQueries(): { q: string; department: string }[] {
  const leaves = CATALOG.flatMap((top) => top.leaves.map((leaf) => ({ top: top.slug, leaf })))
  const queries: { q: string; department: string }[] = []
  for (let i = 0; queries.length < QUERIES; i++) {
    const { top, leaf } = leaves[(i * 7) % leaves.length]
    const firsts = [...ADJECTIVES, ...LINES, ...leaf.materials]
    const first = firsts[(i * 13) % firsts.length].split(' ')[0]
    const noun = leaf.nouns[(i * 3) % leaf.nouns.length].split(' ').pop()!
    queries.push({ q: `${first} ${noun}`.toLowerCase(), department: top })
  }
  return queries
}

export function searchPaths(): string[] {
  return searchQueries().map(({ q, department }, i) => {
    const params = new URLSearchParams({ q })
    // Some shoppers narrow down: their department, in-stock only, a price cap.
    if (i % 4 === 1) params.set('category', department)
    if (i % 4 === 2) params.set('inStock', 'true')
    if (i % 4 === 3) params.set('maxPrice', '10000')
    return `/store/search?${params}`
  })
}

export function suggestPaths(): string[] {
  const words = [...LINES, ...allBrands(), ...ADJECTIVES]
  const paths: string[] = []
  for (let i = 0; paths.length < PREFIXES; i++) {
    const word = words[i % words.length]
    const length = 2 + (i % 5)
    paths.push(`/store/search/suggest?${new URLSearchParams({ q: word.slice(0, length).toLowerCase() })}`)
  }
  return paths
}

export const search: LoadScenario = {
  kind: 'load',
  name: 'search',
  // One API process: at 1 M products it spent 0.88-0.95 ms of API CPU per query against
  // 1.05-1.28 ms for two (alternating runs); PostgreSQL is most of a query's CPU.
  apiProcesses: 1,
  description: `full-text search, two-word queries with facets (GET /store/search), ${QUERIES} queries, ${SEARCH_CONNECTIONS} connections`,
  async prepare(ctx) {
    await ensureIndex(ctx)
    const paths = searchPaths()
    await getAll(ctx.api, paths.slice(0, 20))
    return { connections: SEARCH_CONNECTIONS, duration: ctx.duration, paths }
  },
}

export const suggest: LoadScenario = {
  kind: 'load',
  name: 'suggest',
  description: `search-as-you-type completions (GET /store/search/suggest), ${PREFIXES} prefixes, ${SEARCH_CONNECTIONS} connections`,
  async prepare(ctx) {
    await ensureIndex(ctx)
    const paths = suggestPaths()
    await getAll(ctx.api, paths.slice(0, 20))
    return { connections: SEARCH_CONNECTIONS, duration: ctx.duration, paths }
  },
}
