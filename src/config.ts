// Settings come from the environment, are validated once at start and frozen.
// A bad value stops the start with a ConfigError naming the variable.
import { isIP } from 'node:net'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  port: number
  host: string
  databaseUrl: string | null
  redisUrl: string | null
  natsUrl: string | null
  smtpUrl: string | null
  mailFrom: string
  instance: string
  adminEmail: string | null
  adminPassword: string | null
  logLevel: LogLevel
  dataDir: string
  webConcurrency: number
  /** How long a product stays fresh in the in-process LRU. */
  lruTtlMs: number
  /** How long PostgreSQL may take for one cache load before the stale copy is served. */
  dbQueryTimeoutMs: number
  /** Event-loop delay above which requests are shed with 503. */
  maxEventLoopDelayMs: number
  /** A request unanswered this long gets 503 (0: never); see http/server.ts. */
  requestDeadlineMs: number
  /** Declined payments per hour from one shopper (a signed-in customer, or a guest's address) before checkouts are refused (card testing). */
  declinesPerShopper: number
  /** Guest carts one client address may create per minute (0: no limit). */
  cartsPerIpPerMinute: number
  /** Guest carts one client address may create per day (0: no limit). */
  cartsPerIpPerDay: number
  /** Size of the PostgreSQL pool per process. */
  dbPoolSize: number
  /** PostgreSQL cancels a statement of the api and worker roles after this long (0: never). */
  dbStatementTimeoutMs: number
  /** Seed a demo catalog when the catalog is empty at `start`. */
  seedDemo: boolean
  /** Longest a search may take (breaker timeout and PostgreSQL statement_timeout). */
  searchTimeoutMs: number
  /** How long the search circuit breaker stays open before a trial call. */
  searchBreakerResetMs: number
  /** How long a whole search answer may be served from cache (0: off). */
  searchCacheTtlMs: number
  /** The card gateway's base URL; null runs the bundled simulator in this process. */
  gatewayUrl: string | null
  /** HMAC secret for payment webhooks; null (in-process simulator only) means a random one per process. */
  gatewaySecret: string | null
  /** Port of the `gateway` role (the card simulator). */
  gatewayPort: number
  /** Where the simulator POSTs webhooks; null: this process's own API (in-process) or none (`gateway` role). */
  gatewayWebhookUrl: string | null
  /** Per attempt to reach the gateway. */
  gatewayTimeoutMs: number
  /** How long the gateway circuit breaker stays open before a trial call. */
  gatewayBreakerResetMs: number
  /** Card simulator: added latency, share of calls answered 500, the slow test card's delay. */
  simulatorLatencyMs: number
  simulatorFailureRate: number
  simulatorSlowMs: number
  /**
   * Which proxies in front of the API are believed about the client (X-Forwarded-For, -Proto,
   * -Host): false (none: the headers are ignored, nobody can spoof an address), true (every
   * hop), a hop count, or addresses/CIDRs (and proxy-addr's names: loopback, linklocal, uniquelocal).
   */
  trustProxy: boolean | number | string[]
  /**
   * Origins whose web pages may call the API from the browser (CORS): a storefront or admin
   * app served from another origin. Empty: only pages of the API's own origin.
   */
  corsOrigins: string[]
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

function text(env: Env, name: string): string | null {
  const value = env[name]
  return value === undefined || value.trim() === '' ? null : value.trim()
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name)
  if (raw === null) return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = text(env, name)
  if (raw === null) return null
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, 'is not a valid URL')
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => p + '//').join(' or ')}`)
  }
  return raw
}

function fraction(env: Env, name: string, fallback: number): number {
  const raw = text(env, name)
  if (raw === null) return fallback
  const value = Number(raw)
  if (!/^\d*\.?\d+$/.test(raw) || value > 1) throw new ConfigError(name, `must be a number from 0 to 1, got "${raw}"`)
  return value
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)
  if (raw === null) return fallback
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false
  throw new ConfigError(name, `must be true or false, got "${raw}"`)
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal']

function trustProxy(env: Env): boolean | number | string[] {
  const raw = text(env, 'TRUST_PROXY')
  if (raw === null || ['0', 'false', 'no'].includes(raw.toLowerCase())) return false
  if (['true', 'yes'].includes(raw.toLowerCase())) return true
  if (/^\d+$/.test(raw)) return integer(env, 'TRUST_PROXY', 0, 1, 32)
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/')
    const version = isIP(address)
    const maxBits = version === 6 ? 128 : 32
    const ok = PROXY_NAMES.includes(entry) || (version !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits)))
    if (!ok) throw new ConfigError('TRUST_PROXY', `"${entry}" is not an address, a CIDR range or one of ${PROXY_NAMES.join(', ')} (or use true, false or a hop count)`)
  }
  return entries
}

/** MAIL_FROM: an address, optionally with a display name ("Shop <orders@shop.example>"). */
function mailFrom(env: Env): string {
  const raw = text(env, 'MAIL_FROM') ?? 'shop@localhost'
  const address = /<([^<>]*)>\s*$/.exec(raw)?.[1] ?? raw
  if (!/^[^@\s<>]+@[^@\s<>]+$/.test(address)) throw new ConfigError('MAIL_FROM', `"${raw}" is not an e-mail address`)
  return raw
}

/** CORS_ORIGINS: origins as a browser sends them (scheme, host and port; no path, no "*"). */
function origins(env: Env): string[] {
  const raw = text(env, 'CORS_ORIGINS')
  if (raw === null) return []
  return raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '').map((entry) => {
    let origin: string | null = null
    try {
      const parsed = new URL(entry)
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') origin = parsed.origin
    } catch {
      // not a URL: said below
    }
    if (origin === null || origin !== entry.replace(/\/$/, '')) {
      throw new ConfigError('CORS_ORIGINS', `"${entry}" is not an origin (scheme, host and port, as https://shop.example.com)`)
    }
    return origin
  })
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)

  const instance = text(env, 'INSTANCE') ?? 'shop'
  if (!/^[a-z0-9][a-z0-9_-]{0,39}$/i.test(instance)) {
    throw new ConfigError('INSTANCE', 'must be 1-40 letters, digits, "-" or "_"')
  }

  const adminEmail = text(env, 'ADMIN_EMAIL')
  // Empty is unset, as for every setting (ADMIN_EMAIL= ADMIN_PASSWORD= was refused); a
  // password given is kept exactly as typed, its spaces included.
  const adminPassword = env.ADMIN_PASSWORD === undefined || env.ADMIN_PASSWORD === '' ? null : env.ADMIN_PASSWORD
  if (adminEmail !== null && !/^[^@\s]+@[^@\s]+$/.test(adminEmail)) {
    throw new ConfigError('ADMIN_EMAIL', 'is not an e-mail address')
  }
  if (adminEmail !== null && adminPassword === null) throw new ConfigError('ADMIN_PASSWORD', 'is required with ADMIN_EMAIL')
  if (adminPassword !== null && adminEmail === null) throw new ConfigError('ADMIN_EMAIL', 'is required with ADMIN_PASSWORD')
  if (adminPassword !== null && (adminPassword.length < 8 || adminPassword.length > 128)) {
    throw new ConfigError('ADMIN_PASSWORD', 'must be 8 to 128 characters')
  }

  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const gatewayUrl = url(env, 'GATEWAY_URL', ['http:', 'https:'])
  // The secret is shared with a separate gateway process, so it cannot be made up here.
  const gatewaySecret = text(env, 'GATEWAY_SECRET')
  if (gatewaySecret !== null && gatewaySecret.length < 16) throw new ConfigError('GATEWAY_SECRET', 'must be at least 16 characters')
  if (gatewayUrl !== null && gatewaySecret === null) throw new ConfigError('GATEWAY_SECRET', 'is required with GATEWAY_URL')
  const config: Config = {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: text(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    natsUrl: url(env, 'NATS_URL', ['nats:', 'tls:']),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: mailFrom(env),
    instance,
    adminEmail: adminEmail?.toLowerCase() ?? null,
    adminPassword,
    logLevel,
    dataDir: text(env, 'DATA_DIR') ?? './data',
    webConcurrency: integer(env, 'WEB_CONCURRENCY', 1, 1, 64),
    lruTtlMs: integer(env, 'CACHE_LRU_TTL_MS', 5000, 0, 3_600_000),
    dbQueryTimeoutMs: integer(env, 'DB_QUERY_TIMEOUT_MS', 2000, 50, 60_000),
    maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', 200, 0, 60_000),
    requestDeadlineMs: integer(env, 'REQUEST_DEADLINE_MS', 30_000, 0, 3_600_000),
    declinesPerShopper: integer(env, 'DECLINES_PER_SHOPPER', 20, 1, 1_000_000),
    cartsPerIpPerMinute: integer(env, 'CARTS_PER_IP_PER_MINUTE', 600, 0, 1_000_000),
    cartsPerIpPerDay: integer(env, 'CARTS_PER_IP_PER_DAY', 10_000, 0, 100_000_000),
    // The embedded PGlite socket serves one connection at a time: a pool of one.
    dbPoolSize: databaseUrl ? integer(env, 'DB_POOL_SIZE', 4, 1, 200) : 1,
    dbStatementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 10_000, 0, 3_600_000),
    seedDemo: bool(env, 'SEED_DEMO', true),
    searchTimeoutMs: integer(env, 'SEARCH_TIMEOUT_MS', 1500, 1, 60_000),
    searchBreakerResetMs: integer(env, 'SEARCH_BREAKER_RESET_MS', 10_000, 100, 600_000),
    searchCacheTtlMs: integer(env, 'SEARCH_CACHE_TTL_MS', 30_000, 0, 3_600_000),
    gatewayUrl: gatewayUrl?.replace(/\/+$/, '') ?? null,
    gatewaySecret,
    gatewayPort: integer(env, 'GATEWAY_PORT', 4010, 0, 65535),
    gatewayWebhookUrl: url(env, 'GATEWAY_WEBHOOK_URL', ['http:', 'https:']),
    gatewayTimeoutMs: integer(env, 'GATEWAY_TIMEOUT_MS', 2000, 1, 60_000),
    gatewayBreakerResetMs: integer(env, 'GATEWAY_BREAKER_RESET_MS', 10_000, 100, 600_000),
    simulatorLatencyMs: integer(env, 'SIMULATOR_LATENCY_MS', 0, 0, 60_000),
    simulatorFailureRate: fraction(env, 'SIMULATOR_FAILURE_RATE', 0),
    simulatorSlowMs: integer(env, 'SIMULATOR_SLOW_MS', 5000, 0, 600_000),
    trustProxy: trustProxy(env),
    corsOrigins: origins(env),
  }
  return Object.freeze(config)
}
