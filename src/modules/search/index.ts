// Search: full-text, typo-tolerant, faceted product search. The only file other modules
// and the composition root import.
import { Gauge } from 'prom-client'
import type { Db, Sql, Tx } from '../../platform/db/index.ts'
import type { AfterCommit, OutboxEvent } from '../../platform/bus/outbox.ts'
import { isRowId } from '../../platform/http/errors.ts'
import type { Kv } from '../../platform/kv/types.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import type { Metrics } from '../../platform/telemetry/metrics.ts'
import { AnswerCache } from './answer-cache.ts'
import { Breaker, SearchUnavailable } from './breaker.ts'
import type { SearchEngine } from './engine.ts'
import { refreshProducts, reindexAll, type IndexerDeps, type ReindexOptions, type ReindexResult } from './indexer.ts'
import { pgSearchIndex } from './pg-index.ts'
import { createPgSearchEngine, searchSessionSettings } from './pg-search.ts'
import { searchRoutes } from './routes.ts'
import { prefixKey } from './query-text.ts'
import { prepareSearch, searchProducts } from './search-products.ts'

export interface SearchDeps {
  sql: Sql
  kv: Kv
  log: Logger
  metrics: Metrics
  catalog: IndexerDeps['catalog']
  stock: IndexerDeps['stock']
  /** Per search call: the breaker's timeout and PostgreSQL's statement_timeout. */
  timeoutMs: number
  /** How long the breaker stays open before a trial call. */
  breakerResetMs: number
  /** How long a whole answer may be served from cache; 0: never cached. */
  cacheTtlMs: number
  /** The platform's pool with session settings (null on the embedded database). */
  openPool?: (settings: Record<string, string>) => Sql | null
}

const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const

/** Every engine call goes through the breaker; its failures are logged once, here. */
function guarded(engine: SearchEngine, breaker: Breaker, log: Logger): SearchEngine {
  const run = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await breaker.run(call)
    } catch (error) {
      if (error instanceof SearchUnavailable && error.cause) log.warn({ err: error.cause }, 'search failed')
      throw error
    }
  }
  return {
    search: (request) => run(() => engine.search(request)),
    correct: (text) => run(() => engine.correct(text)),
    suggest: (prefix, limit) => run(() => engine.suggest(prefix, limit)),
  }
}

export function createSearchModule(deps: SearchDeps) {
  // Several module sets may share one registry (the `start` role builds two): one gauge.
  const state =
    (deps.metrics.registry.getSingleMetric('search_breaker_state') as Gauge | undefined) ??
    new Gauge({ name: 'search_breaker_state', help: 'Search circuit breaker: 0 closed, 1 half-open, 2 open', aggregator: 'max', registers: [deps.metrics.registry] })
  const breaker = new Breaker({
    timeoutMs: deps.timeoutMs,
    resetMs: deps.breakerResetMs,
    onStateChange: (next) => {
      state.set(BREAKER_STATE[next])
      deps.log.warn({ breaker: 'search', state: next }, 'search circuit breaker changed state')
    },
  })
  // PostgreSQL today. An OpenSearch adapter would implement SearchEngine and SearchIndex
  // (engine.ts) and be chosen here by configuration; nothing else changes.
  const searchSql = deps.openPool?.(searchSessionSettings(deps.timeoutMs)) ?? null
  const engine = guarded(createPgSearchEngine({ sql: deps.sql, statementTimeoutMs: deps.timeoutMs, searchSql }), breaker, deps.log)
  const cache = new AnswerCache({ kv: deps.kv, log: deps.log, ttlMs: deps.cacheTtlMs })
  const announceIndexChange: AfterCommit = () => cache.announceChange()
  const indexer: IndexerDeps = { sql: deps.sql, catalog: deps.catalog, stock: deps.stock, indexFor: (db: Db) => pgSearchIndex(db) }

  /** product.updated, one or a batch: one refresh of the products they name; cached answers go stale after it commits. */
  async function onProductsUpdated(events: OutboxEvent[], tx: Tx): Promise<AfterCommit | void> {
    const productIds = new Set<string>()
    for (const event of events) {
      const productId = (event.payload as { productId?: unknown })?.productId
      if (typeof productId === 'string' && isRowId(productId)) productIds.add(productId)
      else deps.log.error({ eventId: event.eventId }, 'product.updated without a valid productId; skipped')
    }
    if (productIds.size === 0) return
    await refreshProducts(indexer, [...productIds], tx)
    return announceIndexChange
  }

  return {
    routes: searchRoutes({
      search: (query) => {
        const prepared = prepareSearch(query) // a 400 is never cached
        return cache.get(['search', prepared.request, prepared.cursor, prepared.fingerprint], () => searchProducts(engine, prepared))
      },
      suggest: async (prefix, limit) =>
        (await cache.get(['suggest', prefixKey(prefix), limit], async () => ({ items: await engine.suggest(prefix, limit) }))).items,
    }),

    /** The `product.updated` consumer, a claimed batch at a time (register it on the worker's dispatcher). */
    onProductsUpdated,

    /** Re-reads these products into the index (e.g. a variant went in or out of stock), in the caller's transaction. */
    refreshProducts: (productIds: string[], tx: Tx): Promise<void> =>
      productIds.length === 0 ? Promise.resolve() : refreshProducts(indexer, productIds, tx),

    /** After an index change committed (refreshProducts): cached answers in every API process go stale. */
    announceIndexChange,

    /** Rebuilds the whole index from the catalog (the `reindex` role). */
    reindexAll(options: ReindexOptions = {}): Promise<ReindexResult> {
      return reindexAll(indexer, options)
    },

    /** At `start`: a catalog seeded without events gets its index built once. */
    async reindexIfEmpty(): Promise<ReindexResult | null> {
      if ((await pgSearchIndex(deps.sql).count()) > 0) return null
      if ((await deps.catalog.scanForIndex('0', 1)).length === 0) return null
      return reindexAll(indexer)
    },

    breakerIsOpen: () => breaker.isOpen,

    /** API processes: cached answers go stale when the worker changes the index. */
    start: () => cache.start(),

    async stop(): Promise<void> {
      breaker.shutdown()
      await cache.stop()
    },
  }
}

export type SearchModule = ReturnType<typeof createSearchModule>
