// Starts the whole API on a loopback port against a fresh database and its own
// INSTANCE prefix in Redis, so test files can run side by side on one server.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { DestinationStream } from 'pino'
import { loadConfig } from '../../src/config.ts'
import { openPlatform, type Platform } from '../../src/platform/index.ts'
import { createLogger } from '../../src/platform/telemetry/log.ts'
import { createMetrics } from '../../src/platform/telemetry/metrics.ts'
import { migrate } from '../../src/platform/db/migrate.ts'
import { createApi, createWorker, type Api } from '../../src/app.ts'
import { createDatabase } from './db.ts'
import { deleteEventStream } from '../../src/platform/bus/jetstream.ts'

export const ADMIN = { email: 'admin@shop.test', password: 'admin-password-1' }

export interface TestApp {
  url: string
  api: Api
  platform: Platform
  instance: string
  databaseUrl: string
  env: Record<string, string>
  /** fetch against the app, JSON in and out. */
  call(method: string, path: string, options?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }>
  adminToken(): Promise<string>
  /** Delivers every pending outbox event to the worker's handlers now; answers how many. */
  drainEvents(): Promise<number>
  /** Publishes every unpublished outbox event to JetStream now (needs NATS_URL in env); answers how many. */
  publishEvents(): Promise<number>
  /** One round of the worker's housekeeping now; answers the rows removed per task. */
  housekeep(): Promise<Record<string, number>>
  close(): Promise<void>
}

export interface TestAppOptions {
  env?: Record<string, string>
  /** Use this database instead of creating one (a second process on the same data). */
  databaseUrl?: string
  instance?: string
  onQuery?: (text: string) => void
  /** Run the worker role (outbox dispatch) in the background too. */
  withWorker?: boolean
  /** Where the app's log lines go (default stdout): a test can read what was logged. */
  logStream?: DestinationStream
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.databaseUrl ? { url: options.databaseUrl, drop: async () => {} } : await createDatabase()
  const instance = options.instance ?? `t${randomBytes(5).toString('hex')}`
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    INSTANCE: instance,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // Tests race hundreds of shoppers from one address; the limit's own test sets it.
    CARTS_PER_IP_PER_MINUTE: '0',
    CARTS_PER_IP_PER_DAY: '0',
    DB_POOL_SIZE: process.env.DATABASE_URL ? '10' : '1',
    ...options.env,
  }
  const config = loadConfig(env)
  const platform = await openPlatform(config, {
    inMemory: true,
    onQuery: options.onQuery,
    log: createLogger(config.logLevel, 'shop', options.logStream),
    metrics: createMetrics(false),
  })
  await migrate(platform.sql)
  // NATS connects in the background; a test that publishes wants it there (an unreachable
  // one is a test's own doing: go on without it after a moment).
  if (platform.nats) await Promise.race([platform.nats.connected(), new Promise((resolve) => setTimeout(resolve, 5000).unref())])
  const api = await createApi(platform)
  const worker = createWorker(platform, api.modules)
  if (options.withWorker) worker.start()
  await api.modules.customers.ensureAdmin(ADMIN.email, ADMIN.password)
  await api.app.listen({ port: 0, host: '127.0.0.1' })
  const address = api.app.server.address() as { port: number }
  const url = `http://127.0.0.1:${address.port}`

  const call: TestApp['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    const res = await fetch(url + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) })
    const text = await res.text()
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : null
    } catch {}
    return { status: res.status, headers: res.headers, body }
  }

  let token: string | null = null
  return {
    url,
    api,
    platform,
    instance,
    databaseUrl: database.url,
    env,
    call,
    async adminToken() {
      if (!token) {
        const res = await call('POST', '/store/auth/login', { body: ADMIN })
        if (res.status !== 200) throw new Error(`admin login failed: ${res.status}`)
        token = res.body.token as string
      }
      return token!
    },
    drainEvents: () => worker.dispatcher.dispatchPending(),
    publishEvents: () => {
      if (!worker.publisher) throw new Error('publishEvents needs NATS_URL in the app env')
      return worker.publisher.publishPending()
    },
    housekeep: () => worker.housekeep(),
    async close() {
      await worker.stop()
      // A test's event stream goes with it (the NATS server is shared).
      const nats = platform.nats?.current()
      if (nats) await deleteEventStream(nats, instance)
      await api.stop()
      await platform.close()
      await database.drop()
      await dropInstanceKeys(instance)
    },
  }
}

/** Removes every Redis key this test instance wrote. */
export async function dropInstanceKeys(instance: string): Promise<void> {
  if (!process.env.REDIS_URL) return
  const redis = new Redis(process.env.REDIS_URL)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${instance}:*`, 'COUNT', 500)
      cursor = next
      if (keys.length) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

export const sampleProduct = (overrides: Record<string, unknown> = {}) => ({
  name: 'Trailrunner Waterproof Hiking Boot',
  description: 'A light boot for long days on wet trails.',
  brand: 'Northpeak',
  category: 'footwear/boots',
  images: ['https://images.example/boot.jpg'],
  variants: [
    { sku: `BOOT-${randomBytes(4).toString('hex')}-42`, title: 'EU 42', price: { amount: 12999, currency: 'USD' }, stock: 5 },
    { sku: `BOOT-${randomBytes(4).toString('hex')}-43`, title: 'EU 43', price: { amount: 12999, currency: 'USD' }, stock: 0 },
  ],
  ...overrides,
})
