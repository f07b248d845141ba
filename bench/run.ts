// The benchmark harness: `npm run bench [scenario]`.
//
// Load scenarios: a fresh `shop_bench_<random>` database on the DATABASE_URL server (migrated,
// seeded with BENCH_PRODUCTS products; dropped at the end unless BENCH_KEEP_DB=1), the API as child processes (`src/main.ts api`, one worker per
// core unless the scenarios ask for fewer), the outbox worker (`src/main.ts worker`), the card simulator (`src/main.ts gateway`, as the card processor would be its own
// service), the bare baseline (bench/baseline.ts), and for each scenario a load-tool run (wrk, or autocannon where wrk is not installed) in its
// own process against the API and then the same run against the baseline.
// Task scenarios (`seed`) run only when named. Results: a table, and .bench/results-<time>.json.
//
// Settings: DATABASE_URL, REDIS_URL (required), NATS_URL (optional), BENCH_PRODUCTS (20,000), BENCH_DATABASE (reuse),
// BENCH_CONNECTIONS (64), BENCH_DURATION (10 s), BENCH_WARMUP (3 s), BENCH_SEED_PRODUCTS (1,000,000).
// Everything shares this machine's cores: the load generator competes with the servers.
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { Redis } from 'ioredis'
import { connect as connectNats } from 'nats'
import { deleteEventStream } from '../src/platform/bus/jetstream.ts'
import { connectDb, type Sql } from '../src/platform/db/index.ts'
import { migrate } from '../src/platform/db/migrate.ts'
import { seedCatalog } from '../src/seed/index.ts'
import { describeCpu, startCpuCount } from './lib/cpu.ts'
import { dropDatabase, ensureDatabase, recreateDatabase } from './lib/database.ts'
import { intFromEnv } from './lib/env.ts'
import { waitFor200 } from './lib/http.ts'
import { freePort, killAllNow, ROOT, startNode, stopAll, type Child } from './lib/processes.ts'
import { table, writeResults, type Row } from './lib/report.ts'
import { loadTool, MEASURING, type LoadInput, type LoadSummary } from './load.ts'
import { scenarios, type FlowScenario, type LoadOptions, type LoadScenario, type TaskScenario } from './scenarios/index.ts'

// One database per run, dropped at the end: runs side by side never touch each other's data.
// BENCH_DATABASE names a database to keep and reuse instead (seeded on its first run only):
// a 1 M catalog takes minutes to seed and index, a reused one none.
const REUSED_DATABASE = process.env.BENCH_DATABASE || null
const BENCH_DATABASE = REUSED_DATABASE ?? `shop_bench_${randomBytes(3).toString('hex')}`
const log = (message: string) => console.error(`bench: ${message}`)

function fail(message: string): never {
  console.error(`bench: ${message}`)
  process.exit(2)
}

const settings = {
  products: intFromEnv('BENCH_PRODUCTS', 20_000),
  connections: intFromEnv('BENCH_CONNECTIONS', 64),
  duration: intFromEnv('BENCH_DURATION', 10),
  warmup: intFromEnv('BENCH_WARMUP', 3, 0),
  /** Requests per second in an open loop (bench/open-loop.ts), one run each; none: the load tool's closed loop. */
  rates: ratesFromEnv(),
  cores: os.availableParallelism(),
  /**
   * API processes (WEB_CONCURRENCY): BENCH_API_WORKERS, else what the chosen scenarios ask
   * for (apiProcesses) when they agree, else one per core. Set in main().
   */
  apiWorkers: 0,
}

/**
 * BENCH_RATE: one rate (requests/s, open loop), or several comma-separated, run one after
 * the other in one bench run ("200,240,280,300": where the p95 goal stops holding); unset or
 * 0, the load tool's closed loop.
 */
function ratesFromEnv(): number[] {
  const raw = process.env.BENCH_RATE?.trim()
  if (!raw) return []
  const rates = raw.split(',').map((part) => Number(part.trim().replace(/_/g, '')))
  if (rates.some((rate) => !Number.isSafeInteger(rate) || rate < 0)) fail(`BENCH_RATE must be whole numbers >= 0, comma-separated, got "${raw}"`)
  return rates.filter((rate) => rate > 0)
}

function select(name: string | undefined): { loads: LoadScenario[]; tasks: TaskScenario[]; flows: FlowScenario[] } {
  const chosen = name ? scenarios.filter((s) => s.name === name) : scenarios.filter((s) => !s.explicitOnly)
  if (chosen.length === 0) {
    const list = scenarios.map((s) => `  ${s.name.padEnd(10)} ${s.description}${s.explicitOnly ? ' (only when named)' : ''}`)
    fail(`no scenario "${name}". Scenarios:\n${list.join('\n')}`)
  }
  return {
    loads: chosen.filter((s): s is LoadScenario => s.kind === 'load'),
    tasks: chosen.filter((s): s is TaskScenario => s.kind === 'task'),
    flows: chosen.filter((s): s is FlowScenario => s.kind === 'flow'),
  }
}

// --- cleanup -------------------------------------------------------------------------------

const cleanups: (() => Promise<void>)[] = []
let cleaning: Promise<void> | null = null
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll()
    for (const step of cleanups.reverse()) await step().catch((error) => log(`cleanup: ${(error as Error).message}`))
  })()
  return cleaning
}
process.on('exit', killAllNow)
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    log(`${signal}: stopping`)
    void cleanup().finally(() => process.exit(130))
  })
}

// --- the system under test -----------------------------------------------------------------

interface Targets {
  api: string
  /** The process trees whose CPU is counted (name -> root pid). */
  pids: Record<string, number>
  baseline: string
  baselinePid: number
  sql: Sql
}

async function startTargets(serverUrl: string, redisUrl: string): Promise<Targets> {
  const url = REUSED_DATABASE ? await ensureDatabase(serverUrl, REUSED_DATABASE) : await recreateDatabase(serverUrl, BENCH_DATABASE)
  // Cleanups run last-in first-out: the pool closes (and the api stops) before the drop.
  if (!process.env.BENCH_KEEP_DB && !REUSED_DATABASE) cleanups.push(() => dropDatabase(serverUrl, BENCH_DATABASE))
  const sql = connectDb({ url, poolSize: 4 })
  cleanups.push(() => sql.end({ timeout: 5 }))
  await migrate(sql)
  const [{ products }] = await sql<{ products: number }[]>`select count(*)::int as products from catalog.products`
  if (products > 0) {
    log(`reusing ${BENCH_DATABASE}: ${products.toLocaleString('en-US')} products (BENCH_PRODUCTS is not applied to a seeded database)`)
  } else {
    log(`seeding ${settings.products.toLocaleString('en-US')} products into ${BENCH_DATABASE}`)
    const seeded = await seedCatalog(sql, { products: settings.products, seed: 1, progress: process.stderr.isTTY })
    log(`seeded ${seeded.products} products, ${seeded.variants} variants in ${(seeded.ms / 1000).toFixed(1)} s`)
  }

  const instance = `bench-${randomBytes(4).toString('hex')}`
  cleanups.push(() => deleteRedisKeys(redisUrl, instance))
  if (process.env.NATS_URL) cleanups.push(() => deleteBenchStream(process.env.NATS_URL!, instance))
  const [apiPort, baselinePort, gatewayPort] = [await freePort(), await freePort(), await freePort()]
  const api = `http://127.0.0.1:${apiPort}`
  // The card simulator runs as its own process, as the card processor would be its own
  // service: its CPU is counted apart from the api's (it still shares these cores).
  const gatewaySecret = randomBytes(32).toString('hex')
  const gatewayEnv: Record<string, string> = {
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_SECRET: gatewaySecret,
    GATEWAY_WEBHOOK_URL: `${api}/webhooks/payments`,
    LOG_LEVEL: 'warn',
  }
  const apiEnv: Record<string, string> = {
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    REDIS_URL: redisUrl,
    INSTANCE: instance,
    WEB_CONCURRENCY: String(settings.apiWorkers),
    LOG_LEVEL: 'warn',
    GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
    GATEWAY_SECRET: gatewaySecret,
    // The load generator is one address creating a cart per simulated shopper: a shop's
    // shoppers come from many.
    CARTS_PER_IP_PER_MINUTE: process.env.CARTS_PER_IP_PER_MINUTE ?? '0',
    CARTS_PER_IP_PER_DAY: process.env.CARTS_PER_IP_PER_DAY ?? '0',
  }
  if (process.env.NATS_URL) apiEnv.NATS_URL = process.env.NATS_URL
  const gateway = startNode('gateway', ['--import', 'tsx', 'src/main.ts', 'gateway'], gatewayEnv)
  const apiChild = startNode('api', ['--import', 'tsx', 'src/main.ts', 'api'], apiEnv)
  // The outbox worker, as a deployment runs it: its CPU is part of what an order costs.
  const worker = startNode('worker', ['--import', 'tsx', 'src/main.ts', 'worker'], { ...apiEnv, PORT: '0', LOG_LEVEL: 'error' })
  const baseline = startNode('baseline', ['--import', 'tsx', 'bench/baseline.ts', String(baselinePort)], {})
  const targets = {
    api,
    pids: { api: apiChild.process.pid!, worker: worker.process.pid!, 'gateway simulator': gateway.process.pid! },
    baseline: `http://127.0.0.1:${baselinePort}`,
    baselinePid: baseline.process.pid!,
    sql,
  }
  await ready(gateway, `http://127.0.0.1:${gatewayPort}/health/ready`)
  await ready(apiChild, `${targets.api}/health/ready`)
  await ready(baseline, `${targets.baseline}/`)
  if (!worker.alive()) throw new Error(`the worker did not start:\n${worker.tail()}`)
  log(`api (${settings.apiWorkers} workers, INSTANCE=${instance}) on ${targets.api}, outbox worker, card simulator on :${gatewayPort}, baseline on ${targets.baseline}`)
  log(`load tool (load scenarios): ${loadTool()}${loadTool() === 'autocannon' ? ' (install wrk for a load generator that takes less of the cores it shares)' : ''}`)
  return targets
}

async function ready(child: Child, url: string): Promise<void> {
  try {
    await waitFor200(url, 90_000, child.alive)
  } catch (error) {
    throw new Error(`${child.name} did not come up: ${(error as Error).message}\n--- ${child.name} output ---\n${child.tail()}`)
  }
}

/** Removes the JetStream stream the bench worker published its events to (jetstream.ts). */
async function deleteBenchStream(natsUrl: string, instance: string): Promise<void> {
  const nats = await connectNats({ servers: natsUrl, timeout: 3000 })
  try {
    await deleteEventStream(nats, instance)
  } finally {
    await nats.close()
  }
}

/** Removes the keys the bench API wrote (cache entries) from the shared Redis. */
async function deleteRedisKeys(redisUrl: string, instance: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${instance}:*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

// --- load ----------------------------------------------------------------------------------

/**
 * One load-tool run in its own process. With `cpu`, also the CPU each process group spent
 * during the measured part, per request (milliseconds): a figure that the machine's
 * run-to-run noise moves far less than req/s.
 */
async function load(url: string, options: LoadOptions, cpu?: Record<string, number>): Promise<LoadSummary & { cpuMsPerRequest?: Record<string, number> }> {
  const input: LoadInput = { url, warmup: settings.warmup, load: options }
  const child = startNode('load', ['--import', 'tsx', 'bench/load.ts', '-'], {}, JSON.stringify(input))
  const counter: { stop?: () => Record<string, number> } = {}
  if (cpu) void child.printed(MEASURING).then(() => (counter.stop = startCpuCount(cpu)))
  const code = await child.exited
  const used = counter.stop?.() ?? null
  await child.stop()
  const last = child.tail().split('\n').filter((line) => line.startsWith('{')).pop()
  if (code !== 0 || !last) throw new Error(`the load generator failed (exit ${code}):\n${child.tail()}`)
  const summary = JSON.parse(last) as LoadSummary
  if (!used || summary.requests === 0) return summary
  // The load generator has exited by now: it reports its own CPU.
  used['load generator'] = summary.cpuMs
  const perRequest = Object.fromEntries(Object.entries(used).map(([name, ms]) => [name, Number((ms / summary.requests).toFixed(3))]))
  return { ...summary, cpuMsPerRequest: perRequest }
}

function row(scenario: string, target: string, summary: LoadSummary, baseline: LoadSummary | null): Row {
  return {
    scenario,
    target,
    rps: summary.rps,
    p50: summary.latency.p50,
    p95: summary.latency.p95 ?? null,
    p97_5: summary.latency.p97_5,
    p99: summary.latency.p99,
    errors: summary.errors,
    ratio: baseline ? (baseline.rps > 0 ? summary.rps / baseline.rps : null) : 1,
  }
}

// --- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const name = process.argv[2]
  const { loads, tasks, flows } = select(name)
  const asked = new Set([...loads, ...flows].map((s) => s.apiProcesses ?? settings.cores))
  settings.apiWorkers = intFromEnv('BENCH_API_WORKERS', asked.size === 1 ? [...asked][0] : settings.cores)
  const serverUrl = process.env.DATABASE_URL
  const redisUrl = process.env.REDIS_URL
  if (!serverUrl) fail('DATABASE_URL must point at a PostgreSQL server (the bench creates its own databases there), e.g. postgres://postgres@127.0.0.1:5432/postgres')
  if (loads.length + flows.length > 0 && !redisUrl) fail('REDIS_URL must point at a Redis server, e.g. redis://127.0.0.1:6379')

  const startedAt = new Date().toISOString()
  if (os.loadavg()[0] > settings.cores) {
    log(`the machine is busy (load average ${os.loadavg()[0].toFixed(1)} on ${settings.cores} cores): expect noisy figures`)
  }
  const results: Record<string, unknown> = {
    startedAt,
    machine: {
      cores: settings.cores,
      cpu: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: os.loadavg()[0],
    },
    commit: gitCommit(),
    settings,
    tasks: {} as Record<string, unknown>,
    loads: [] as unknown[],
  }

  for (const task of tasks) {
    log(`${task.name}: ${task.description}`)
    const report = await task.run({ serverUrl, log, atCleanup: (step) => void cleanups.push(step) })
    console.log(`\n${task.name}\n${report.lines.map((line) => `  ${line}`).join('\n')}`)
    ;(results.tasks as Record<string, unknown>)[task.name] = report.data
  }

  if (loads.length + flows.length > 0) {
    const targets = await startTargets(serverUrl, redisUrl as string)
    const rows: Row[] = []
    for (const flow of flows) {
      log(`${flow.name}: ${flow.description}`)
      const countCpu = () => startCpuCount({ ...targets.pids, 'load generator': process.pid })
      const report = await flow.run({ api: targets.api, sql: targets.sql, connections: settings.connections, duration: settings.duration, warmup: settings.warmup, log, countCpu })
      rows.push({ scenario: flow.name, target: 'api (flows/s)', rps: report.rps, p50: report.latency.p50, p95: null, p97_5: null, p99: report.latency.p99, errors: report.errors, ratio: null })
      ;(results.loads as unknown[]).push({ scenario: flow.name, description: flow.description, ...report })
    }
    for (const scenario of loads) {
      log(`${scenario.name}: ${scenario.description}`)
      const prepared = await scenario.prepare({ api: targets.api, sql: targets.sql, connections: settings.connections, duration: settings.duration, log })
      for (const rate of settings.rates.length > 0 ? settings.rates : [0]) {
        const options = rate > 0 ? { ...prepared, rate } : prepared
        const name = rate > 0 && settings.rates.length > 1 ? `${scenario.name}@${rate}/s` : scenario.name
        const loop = options.rate ? `open loop: ${options.rate} requests/s arriving on schedule, up to ${options.connections ?? settings.connections} connections` : `closed loop: ${options.connections ?? settings.connections} connections`
        log(`${name}: ${settings.warmup} s warm-up + ${options.duration ?? settings.duration} s against the api (${loop})`)
        const api = await load(targets.api, options, targets.pids)
        if (api.cpuMsPerRequest) log(`${name}: CPU ms per request: ${describeCpu(api.cpuMsPerRequest)}`)
        log(`${name}: the same against the baseline`)
        const baseline = await load(targets.baseline, options, { baseline: targets.baselinePid })
        if (baseline.cpuMsPerRequest) log(`${name}: baseline CPU ms per request: ${describeCpu(baseline.cpuMsPerRequest)}`)
        rows.push(row(name, 'api', api, baseline), row(name, 'baseline', baseline, null))
        ;(results.loads as unknown[]).push({ scenario: scenario.name, description: scenario.description, rate: rate || undefined, connections: options.connections, api, baseline })
      }
    }
    console.log(`\n${table(rows)}\n`)
    console.log(`${settings.cores} cores shared by the api (${settings.apiWorkers} workers), the outbox worker, the baseline and the load generator; ${settings.connections} connections, ${settings.warmup} s warm-up, ${settings.duration} s measured; load average now ${os.loadavg()[0].toFixed(1)}.`)
  }

  console.log(`results: ${writeResults(ROOT, results)}`)
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
  } catch {
    return null
  }
}

main()
  .then(cleanup)
  .then(() => process.exit(0))
  .catch(async (error) => {
    // After Ctrl-C the children are gone and whatever was running fails: not worth a report.
    if (interrupted) return
    console.error(`bench: failed: ${(error as Error)?.stack ?? error}`)
    await cleanup()
    process.exit(1)
  })
