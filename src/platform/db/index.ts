import postgres from 'postgres'
import type { Metrics } from '../telemetry/metrics.ts'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql
/** Either the pool or an open transaction: module repositories accept both. */
export type Db = Sql | Tx

export interface DbOptions {
  url: string
  poolSize: number
  metrics?: Metrics
  /** Called with every query text; tests use it to count queries. */
  onQuery?: (text: string) => void
  /** Settings (GUCs) every session of this pool starts with, sent in the startup message. */
  settings?: Record<string, string>
}

/**
 * postgres.js options for a URL: libpq's `?host=/directory` (a Unix socket, as in
 * postgres://user@localhost/db?host=/run/postgresql) becomes postgres.js's `path`, which
 * would otherwise send `host` to the server as a setting.
 */
export function socketOptions(url: string): { url: string; path?: string } {
  const parsed = new URL(url)
  const directory = parsed.searchParams.get('host')
  if (!directory?.startsWith('/')) return { url }
  parsed.searchParams.delete('host')
  return { url: parsed.toString(), path: `${directory}/.s.PGSQL.${parsed.port || 5432}` }
}

export function connectDb(options: DbOptions): Sql {
  const { url, path } = socketOptions(options.url)
  return postgres(url, {
    ...(path && { path }),
    max: options.poolSize,
    connect_timeout: 5,
    idle_timeout: 30,
    onnotice: () => {},
    // bigint columns come back as strings (postgres.js default): ids are opaque strings in the API.
    transform: { undefined: null },
    connection: { application_name: 'shop', ...options.settings },
    // postgres.js's debug hook captures a stack trace per query (~5 % of a checkout's CPU),
    // so queries are counted only when someone asks (tests that count queries).
    debug: options.onQuery
      ? (_connection, query) => {
          options.metrics?.dbQueries.inc()
          options.onQuery?.(query)
        }
      : undefined,
  })
}

/** True when the error means PostgreSQL could not be reached (as opposed to a bad query). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? ''
  return ['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE', 'ETIMEDOUT', '57P01', '57P03'].includes(code)
}

/**
 * True when PostgreSQL could not answer in time rather than refused the request: it is
 * unreachable, cancelled the statement at statement_timeout (57014), gave up on a lock
 * (55P03) or has no connection slot left (53300). Answered 503: a retry may succeed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? ''
  return isConnectionError(error) || ['57014', '55P03', '53300'].includes(code)
}
