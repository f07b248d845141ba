import { connect as connectNats, type NatsConnection } from 'nats'
import type { Config } from '../config.ts'
import { connectDb, type Sql } from './db/index.ts'
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.ts'
import { connectKv, type Kv } from './kv/index.ts'
import { createLogger, throttledWarn, type Logger } from './telemetry/log.ts'
import { createMetrics, type Metrics } from './telemetry/metrics.ts'
import { join } from 'node:path'

/** The infrastructure one process holds: pools and clients, opened once, closed once. */
export interface Platform {
  config: Readonly<Config>
  log: Logger
  metrics: Metrics
  sql: Sql
  kv: Kv
  nats: NatsConnection | null
  embedded: EmbeddedPostgres | null
  readiness: Record<string, () => Promise<void>>
  /**
   * A further PostgreSQL pool whose sessions start with `settings` (a module whose statements
   * need session settings sends each in one round trip instead of a transaction of three).
   * Null on the embedded database, which serves one connection (or with DB_POOL_SIZE=1).
   * Closed with the platform.
   */
  openPool(settings: Record<string, string>): Sql | null
  close(): Promise<void>
}

export interface PlatformOptions {
  /** Keep the embedded database in memory (tests) instead of under DATA_DIR. */
  inMemory?: boolean
  onQuery?: (text: string) => void
  log?: Logger
  metrics?: Metrics
  /** Overrides config.dbStatementTimeoutMs: the seed and reindex roles run minutes-long statements (0). */
  statementTimeoutMs?: number
  /** Overrides IDLE_IN_TRANSACTION_TIMEOUT_MS (tests). */
  idleInTransactionTimeoutMs?: number
}

/**
 * PostgreSQL ends a transaction that its process left idle this long: a process that hangs
 * (or is paused) in the middle of one would otherwise hold its row locks (stock, an order)
 * until TCP notices, and every checkout of those variants would queue behind it. Our
 * transactions are never idle for more than a round trip.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

/**
 * Drains the connection (flushes what is buffered), but not forever: with NATS unreachable a
 * drain would wait for a reconnect that may never come, and hold up the shutdown.
 */
async function closeNats(nats: NatsConnection): Promise<void> {
  const timeout = new Promise((resolve) => setTimeout(resolve, 2000).unref())
  await Promise.race([nats.drain().catch(() => {}), timeout])
  if (!nats.isClosed()) await nats.close()
}

/** ioredis reports every failed reconnect attempt (several a second while Redis is down). */
function redisErrorLogger(log: Logger): (error: Error) => void {
  const warn = throttledWarn(log, 'redis connection error; reconnecting')
  return (error) => warn({ err: error })
}

export async function openPlatform(config: Readonly<Config>, options: PlatformOptions = {}): Promise<Platform> {
  const log = options.log ?? createLogger(config.logLevel)
  const metrics = options.metrics ?? createMetrics()
  const sessionSettings = {
    // A statement stuck behind a lock or on a struggling server frees its connection (answered 503).
    statement_timeout: String(options.statementTimeoutMs ?? config.dbStatementTimeoutMs),
    idle_in_transaction_session_timeout: String(options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS),
  }
  // Creating the embedded database on a first start takes 10-20 s of silence otherwise.
  if (!config.databaseUrl && !options.inMemory) log.info({ dataDir: config.dataDir }, 'opening the embedded database (PGlite); a first start creates it, which takes a while')
  const embedded = config.databaseUrl
    ? null
    : await startEmbeddedPostgres(options.inMemory ? null : join(config.dataDir, 'pglite'))
  const sql = connectDb({
    url: config.databaseUrl ?? embedded!.url,
    poolSize: config.dbPoolSize,
    metrics,
    onQuery: options.onQuery,
    settings: sessionSettings,
  })
  const kv = await connectKv(config.redisUrl, config.instance, { onError: redisErrorLogger(log) })
  // Reconnect for as long as it takes (the client's default gives up after ten tries, about
  // 20 s, and the connection then stays closed until the process restarts).
  const nats = config.natsUrl ? await connectNats({ servers: config.natsUrl, timeout: 5000, name: config.instance, maxReconnectAttempts: -1 }) : null

  const readiness: Record<string, () => Promise<void>> = {
    postgres: async () => {
      await sql`select 1`
    },
    kv: () => kv.ping(),
  }
  if (nats) readiness.nats = async () => {
    if (nats.isClosed()) throw new Error('connection closed')
    await nats.flush()
  }

  const pools: Sql[] = []
  return {
    config,
    log,
    metrics,
    sql,
    kv,
    nats,
    embedded,
    readiness,
    openPool(settings) {
      // One connection in all (the embedded PGlite socket, or a test's PGlite behind a URL,
      // which serves one connection at a time): a second pool would wait for it forever.
      if (embedded || config.dbPoolSize === 1) return null
      const pool = connectDb({ url: config.databaseUrl!, poolSize: config.dbPoolSize, metrics, onQuery: options.onQuery, settings: { ...sessionSettings, ...settings } })
      pools.push(pool)
      return pool
    },
    async close() {
      await Promise.allSettled([sql.end({ timeout: 5 }), ...pools.map((pool) => pool.end({ timeout: 5 })), kv.close(), nats && closeNats(nats)])
      await embedded?.stop()
    },
  }
}
