import { existsSync } from 'node:fs'
import type { Config } from '../config.ts'
import { connectDb, type Sql } from './db/index.ts'
import { pendingMigrations } from './db/migrate.ts'
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.ts'
import { connectKv, type Kv } from './kv/index.ts'
import { registerOutboxBacklog } from './bus/outbox-backlog.ts'
import { createLogger, throttledWarn, type Logger } from './telemetry/log.ts'
import { createMetrics, type Metrics } from './telemetry/metrics.ts'
import { join } from 'node:path'
import { openNatsLink, type NatsLink } from './bus/nats-link.ts'
import { startLiveness, type Liveness } from './liveness.ts'

/** The infrastructure one process holds: pools and clients, opened once, closed once. */
export interface Platform {
  config: Readonly<Config>
  log: Logger
  metrics: Metrics
  sql: Sql
  kv: Kv
  /** This process's id and whether another process is still alive (a key in the KV it renews). */
  liveness: Liveness
  /** NATS, connected in the background (null without NATS_URL). */
  nats: NatsLink | null
  embedded: EmbeddedPostgres | null
  /** Checks /health/ready requires: what every request path needs (PostgreSQL, the KV). */
  readiness: Record<string, () => Promise<void>>
  /**
   * Checks /health/ready reports without failing on: NATS only carries the outbox's events
   * to JetStream, which wait while it is away; an API taken out of rotation for it would
   * turn a NATS outage into a shop outage.
   */
  reported: Record<string, () => Promise<void>>
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
  const embeddedDir = options.inMemory ? null : join(config.dataDir, 'pglite')
  if (!config.databaseUrl && embeddedDir) {
    const first = !existsSync(join(embeddedDir, 'PG_VERSION'))
    log.info({ dataDir: config.dataDir }, first ? 'creating the embedded database (PGlite): a first start takes a while' : 'opening the embedded database (PGlite)')
  }
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(embeddedDir)
  const sql = connectDb({
    url: config.databaseUrl ?? embedded!.url,
    poolSize: config.dbPoolSize,
    metrics,
    onQuery: options.onQuery,
    settings: sessionSettings,
  })
  registerOutboxBacklog(metrics, sql, { published: config.natsUrl !== null })
  const kv = await connectKv(config.redisUrl, config.instance, {
    onError: redisErrorLogger(log),
    onUnavailable: (error) => log.warn({ err: error }, 'Redis is not answering at start: carts and sessions answer 503 until it does (connecting in the background)'),
  })
  const liveness = await startLiveness(kv, log)
  const nats = config.natsUrl ? openNatsLink(config.natsUrl, config.instance, log) : null

  // Until the schema is seen current, readiness also asks whether migrations are missing
  // (once it is, a plain round trip): a process started on a database not migrated yet
  // answered ready, and then 500 on every request.
  let schemaCurrent = false
  const readiness: Record<string, () => Promise<void>> = {
    postgres: async () => {
      if (schemaCurrent) {
        await sql`select 1`
        return
      }
      const pending = await pendingMigrations(sql)
      if (pending.length > 0) throw new Error(`${pending.length} migrations not applied (run npm run migrate), the first ${pending[0]}`)
      schemaCurrent = true
    },
    kv: () => kv.ping(),
  }
  const reported: Record<string, () => Promise<void>> = {}
  if (nats) reported.nats = async () => {
    const connection = nats.current()
    if (!connection) throw new Error('not connected yet')
    if (connection.isClosed()) throw new Error('connection closed')
    await connection.flush()
  }

  const pools: Sql[] = []
  return {
    config,
    log,
    metrics,
    sql,
    kv,
    liveness,
    nats,
    embedded,
    readiness,
    reported,
    openPool(settings) {
      // One connection in all (the embedded PGlite socket, or a test's PGlite behind a URL,
      // which serves one connection at a time): a second pool would wait for it forever.
      if (embedded || config.dbPoolSize === 1) return null
      const pool = connectDb({ url: config.databaseUrl!, poolSize: config.dbPoolSize, metrics, onQuery: options.onQuery, settings: { ...sessionSettings, ...settings } })
      pools.push(pool)
      return pool
    },
    async close() {
      await liveness.stop()
      await Promise.allSettled([sql.end({ timeout: 5 }), ...pools.map((pool) => pool.end({ timeout: 5 })), kv.close(), nats?.close()])
      await embedded?.stop()
    },
  }
}
