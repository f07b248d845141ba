// The CLI: one codebase, several roles. `start` runs everything in one process.
import cluster from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { openPlatform, type Platform } from './platform/index.ts'
import { migrate } from './platform/db/migrate.ts'
import { isConnectionError } from './platform/db/index.ts'
import { createDatabaseIfMissing } from './platform/db/create-database.ts'
import { DataDirInUse, DataDirUnusable } from './platform/db/embedded.ts'
import { serveClusterMetrics } from './platform/telemetry/cluster-metrics.ts'
import { createApi, createModules, createWorker, type Modules } from './app.ts'
import { prepareFirstStart } from './first-start.ts'
import { seedCatalog, SeedError } from './seed/index.ts'
import { startClusterSimulator, startGatewayProcess } from './modules/payments/index.ts'
import type { Simulator } from './modules/payments/index.ts'
import { createLogger } from './platform/telemetry/log.ts'

const ROLES = ['start', 'api', 'worker', 'gateway', 'migrate', 'seed', 'reindex'] as const
type Role = (typeof ROLES)[number]

function usage(): never {
  console.error(`usage: shop <${ROLES.join('|')}>\n       shop seed --products N [--seed S]`)
  process.exit(2)
}

/** Runs `stop` once on SIGTERM or SIGINT: stop accepting, finish what is in flight, close pools. */
function onShutdown(log: Platform['log'], stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      console.error('shutdown took longer than 15 s; exiting anyway')
      process.exit(1)
    }, 15_000)
    force.unref()
    stop()
      .then(() => process.exit(0))
      .catch((error) => {
        // stderr directly: pino writes asynchronously and exit would lose the line.
        console.error('shutdown failed:', error)
        process.exit(1)
      })
  }
  // `on`, not `once`: a second signal during the drain must not kill the process mid-way.
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}

const ADMIN_RETRY_MS = 5000

/**
 * The configured admin account, made sure of before serving when the database answers, else
 * in the background until it does: the api role started while PostgreSQL was down (or not
 * migrated yet) crashed with a stack trace, where without ADMIN_EMAIL it starts not ready and
 * recovers by itself. Answers a stop for the retries.
 */
async function ensureAdminSoon(platform: Platform, modules: Modules): Promise<() => void> {
  // The api role too (a deployment without `start` has no other way to its first admin);
  // idempotent, so every API process may run it.
  const { adminEmail, adminPassword } = platform.config
  if (!adminEmail || !adminPassword) return () => {}
  const attempt = () => modules.customers.ensureAdmin(adminEmail, adminPassword).then(() => true, (error: unknown) => error)
  let outcome = await attempt()
  if (outcome === true) return () => {}
  platform.log.warn({ err: outcome }, 'could not make sure of the admin account yet (the database away or not migrated); trying again every 5 s')
  let timer: NodeJS.Timeout | undefined
  const retry = async () => {
    outcome = await attempt()
    if (outcome === true) platform.log.info('admin account made sure of')
    else timer = setTimeout(retry, ADMIN_RETRY_MS).unref()
  }
  timer = setTimeout(retry, ADMIN_RETRY_MS).unref()
  return () => clearTimeout(timer)
}

async function serve(platform: Platform, withWorker: boolean, modules = createModules(platform)): Promise<void> {
  const stopAdminRetries = await ensureAdminSoon(platform, modules)
  const api = await createApi(platform, modules)
  const worker = withWorker ? createWorker(platform, modules) : null
  worker?.start()
  let address: string
  try {
    address = await api.app.listen({ port: platform.config.port, host: platform.config.host })
  } catch (error) {
    // Not serving (its port taken): what started stops, the embedded database's lock on its
    // folder with it (left behind, a pid reused later would claim the folder is in use).
    stopAdminRetries()
    await worker?.stop().catch(() => {})
    await api.stop().catch(() => {})
    await platform.close().catch(() => {})
    throw error
  }
  platform.log.info({ address, embedded: platform.embedded !== null }, 'listening')
  if (platform.config.trustProxy === true) {
    // Every hop believed: the leftmost X-Forwarded-For entry, which the client writes itself
    // unless the proxy replaces the header, becomes the address sign-in limits count.
    platform.log.warn('TRUST_PROXY=true believes a client-written X-Forwarded-For unless the proxy replaces it: prefer a hop count (1 for one load balancer) or its addresses')
  }
  onShutdown(platform.log, async () => {
    stopAdminRetries()
    await api.stop()
    await worker?.stop()
    await platform.close()
  })
}

/** More api worker exits than this within CRASH_WINDOW_MS and the primary stops replacing them. */
const MAX_CRASHES_IN_WINDOW = 5
const CRASH_WINDOW_MS = 60_000

async function run(role: Role, config: Readonly<Config>, args: string[]): Promise<void> {
  if (role === 'api' && config.webConcurrency > 1 && cluster.isPrimary) {
    // Several API processes share the port; the primary supervises them, and without a
    // GATEWAY_URL runs the card simulator they all use (startClusterSimulator says why).
    const shared: Record<string, string> = {}
    let simulator: Simulator | null = null
    if (config.gatewayUrl === null) {
      const secret = config.gatewaySecret ?? randomBytes(32).toString('hex')
      let apiPort: number | null = config.port === 0 ? null : config.port
      cluster.on('listening', (_worker, address) => (apiPort ??= address.port))
      const log = createLogger(config.logLevel, 'gateway')
      simulator = await startClusterSimulator(config, log, secret, () => apiPort)
      log.info({ url: simulator.url }, 'card simulator running in the cluster primary, for every api process')
      Object.assign(shared, { GATEWAY_URL: simulator.url, GATEWAY_SECRET: secret })
    }
    for (let i = 0; i < config.webConcurrency; i++) cluster.fork(shared)
    serveClusterMetrics()
    let stopping = false
    const recentExits: number[] = []
    cluster.on('exit', (worker, code, signal) => {
      // The last worker gone after a stop (or giving up): the simulator goes too, and the primary exits.
      if (stopping && Object.values(cluster.workers ?? {}).every((other) => !other || other.isDead())) void simulator?.close()
      if (stopping) return
      // A worker that died (a crash, the OOM killer) is replaced, or the machine would serve
      // on fewer cores until someone noticed. Dying again and again is a broken release or
      // setting: then the primary gives up, so that its supervisor sees the failure.
      console.error(`api worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`)
      const now = Date.now()
      recentExits.push(now)
      while (recentExits.length > 0 && recentExits[0] < now - CRASH_WINDOW_MS) recentExits.shift()
      if (recentExits.length > MAX_CRASHES_IN_WINDOW) {
        console.error(`${recentExits.length} api workers exited within ${CRASH_WINDOW_MS / 1000} s; giving up`)
        stopping = true
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM')
        process.exitCode = 1
        return
      }
      cluster.fork(shared)
    })
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        stopping = true
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
      })
    }
    return
  }

  if (role === 'gateway') {
    // The card simulator needs no database or KV: it keeps its state in memory.
    const log = createLogger(config.logLevel, 'gateway')
    const simulator = await startGatewayProcess(config, log)
    log.info({ url: simulator.url, webhooks: config.gatewayWebhookUrl !== null }, 'card simulator listening')
    onShutdown(log, () => simulator.close())
    return
  }

  // A bad argument is refused before anything is opened.
  if (role === 'seed') seedArgs(args)
  if (role === 'reindex') reindexArgs(args)
  // The roles that set a database up create it first if the server has none of that name.
  if ((role === 'start' || role === 'migrate') && config.databaseUrl && (await createDatabaseIfMissing(config.databaseUrl))) {
    createLogger(config.logLevel).info({ database: new URL(config.databaseUrl).pathname.slice(1) }, 'created the database DATABASE_URL names (the server had none of that name)')
  }
  // Seeding (COPY) and reindexing (CLUSTER) run statements of minutes: no statement timeout there.
  const platform = await openPlatform(config, role === 'seed' || role === 'reindex' ? { statementTimeoutMs: 0 } : {})
  switch (role) {
    case 'migrate': {
      const applied = await migrate(platform.sql)
      platform.log.info({ applied }, 'migrations applied')
      await platform.close()
      return
    }
    case 'seed': {
      const { products, seed } = seedArgs(args)
      await migrate(platform.sql)
      const result = await seedCatalog(platform.sql, { products, seed, progress: process.stderr.isTTY, log: platform.log })
      platform.log.info(result, 'seeded')
      await platform.close()
      return
    }
    case 'reindex': {
      // Rebuilds the search index from the catalog (a catalog seeded without events);
      // --layout also rewrites the table in its read layout (locks it while it runs).
      await migrate(platform.sql)
      const result = await createModules(platform).search.reindexAll({
        layOut: reindexArgs(args).layout,
        onProgress: (indexed) => indexed % 100_000 === 0 && platform.log.info({ indexed }, 'reindexing'),
      })
      platform.log.info(result, 'search index rebuilt')
      await platform.close()
      return
    }
    case 'worker': {
      const modules = createModules(platform)
      // The worker invalidates product caches (stock events): it listens for the API
      // processes' confirmations, or each invalidation waits out its timeout.
      await modules.catalog.start()
      const worker = createWorker(platform, modules, { sharesGatewayWithApi: false })
      worker.start()
      platform.log.info('worker running')
      onShutdown(platform.log, async () => {
        await worker.stop()
        await modules.catalog.stop()
        await platform.close()
      })
      return
    }
    case 'api':
      return serve(platform, false)
    case 'start': {
      await migrate(platform.sql)
      const modules = createModules(platform)
      await prepareFirstStart(platform, modules)
      return serve(platform, true, modules)
    }
  }
}

function seedArgs(args: string[]): { products: number; seed: number } {
  const { values } = parseArgs({ args, options: { products: { type: 'string' }, seed: { type: 'string', default: '1' } } })
  const products = Number(values.products)
  const seed = Number(values.seed)
  if (!Number.isInteger(products) || products < 1) throw new ConfigError('--products', 'must be a whole number of at least 1')
  if (!Number.isInteger(seed)) throw new ConfigError('--seed', 'must be a whole number')
  return { products, seed }
}

function reindexArgs(args: string[]): { layout: boolean } {
  const { values } = parseArgs({ args, options: { layout: { type: 'boolean', default: false } } })
  return { layout: values.layout }
}

const [roleArg, ...rest] = process.argv.slice(2)
const role = (roleArg ?? 'start') as Role
if (!ROLES.includes(role)) usage()

let config: Readonly<Config>
try {
  config = loadConfig()
  if (role === 'gateway' && config.gatewaySecret === null) {
    throw new ConfigError('GATEWAY_SECRET', 'is required by the gateway role (the API verifies its webhooks with it)')
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Bad setting ${error.message}`)
    process.exit(78) // EX_CONFIG
  }
  throw error
}

run(role, config, rest).catch((error) => {
  if (error instanceof ConfigError) {
    console.error(`Bad argument ${error.message}`)
    process.exit(2)
  }
  // parseArgs: an unknown option, or one missing its value ("Unknown option '--bogus'").
  if (typeof error?.code === 'string' && error.code.startsWith('ERR_PARSE_ARGS_')) {
    console.error(`Bad argument: ${error.message}`)
    process.exit(2)
  }
  // Start-up refusals a user can act on: one line, no stack trace.
  if (error instanceof DataDirUnusable) {
    console.error(`Bad setting DATA_DIR: ${error.message}`)
    process.exit(78) // EX_CONFIG
  }
  if (error instanceof DataDirInUse) {
    console.error(error.message)
    process.exit(1)
  }
  if (error instanceof SeedError) {
    console.error(`Cannot seed: ${error.message}`)
    process.exit(1)
  }
  if (error?.code === 'EADDRINUSE') {
    const setting = role === 'gateway' ? 'GATEWAY_PORT' : 'PORT'
    console.error(`Port ${error.port ?? (role === 'gateway' ? config.gatewayPort : config.port)} is in use: stop what listens there, or set ${setting}`)
    process.exit(1)
  }
  if (error?.syscall === 'getaddrinfo' && error?.hostname === config.host) {
    console.error(`Bad setting HOST: "${config.host}" is no address or name this machine can listen on (${error.code})`)
    process.exit(78) // EX_CONFIG
  }
  if (config.databaseUrl && (isConnectionError(error) || ['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', '3D000', '28P01', '28000'].includes(error?.code))) {
    // A role that needs the database at once (migrate, seed, reindex, start) and cannot have it.
    const where = new URL(config.databaseUrl)
    console.error(`Cannot use the database at DATABASE_URL (${where.hostname}:${where.port || 5432}${where.pathname}): ${error.message ?? error.code}`)
    process.exit(1)
  }
  console.error('fatal:', error)
  process.exit(1)
})
