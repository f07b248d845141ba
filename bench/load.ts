// The load generator, in its own process so that it has its own event loop:
//   node --import tsx bench/load.ts '<json>'      (or the JSON on stdin)
// where <json> is { "url": "http://127.0.0.1:3000", "warmup": 3, "load": LoadOptions }.
// Prints one line of JSON: the LoadSummary.
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import { reapedChildrenCpuMs } from './lib/cpu.ts'
import { percentile } from './lib/stats.ts'
import { openLoop } from './open-loop.ts'
import type { LoadOptions } from './scenarios/types.ts'

/** Printed when the warm-up is over and the measured run starts. */
export const MEASURING = 'load: measuring'

export interface LoadInput {
  url: string
  /** Seconds of load before the measured run (its results are discarded). */
  warmup: number
  load: LoadOptions
}

export interface LoadSummary {
  url: string
  /** Mean requests per second over the measured seconds. */
  rps: number
  requests: number
  seconds: number
  /** Milliseconds; autocannon has no p95. */
  latency: { p50: number; p90: number; p95?: number; p97_5: number; p99: number; max: number; mean: number }
  /** non-2xx answers + connection errors (autocannon counts timeouts among its errors). */
  errors: number
  non2xx: number
  connectionErrors: number
  timeouts: number
  statusCodes: Record<string, number>
  /** This process's own CPU over the measured run (it shares the cores with the servers). */
  cpuMs: number
}

async function readStdin(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) text += chunk
  return text
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}

/**
 * Each connection walks the same shuffled list from its own starting point. Started together
 * at the top of one list, the connections would ask for the same path at the same moment,
 * which flatters every cache (and PostgreSQL's buffers) on the way.
 */
function staggered(paths: readonly string[], connections: number): (client: { setRequests(requests: { path: string }[]): void }) => void {
  const list = shuffled(paths).map((path) => ({ path }))
  let next = 0
  return (client) => {
    const start = Math.floor((next++ * list.length) / connections) % list.length
    client.setRequests([...list.slice(start), ...list.slice(0, start)])
  }
}

/**
 * The load tool: wrk where it is installed (`apt-get install wrk`), else autocannon.
 * BENCH_LOAD_TOOL=wrk|autocannon picks one. wrk, written in C, spends a fifth to two fifths
 * of autocannon's CPU per request (11-22 against 54 µs per cached product read), and the load generator shares the cores with the servers
 * it measures: with autocannon it took as much CPU as the API itself.
 */
export function loadTool(): 'wrk' | 'autocannon' {
  const chosen = process.env.BENCH_LOAD_TOOL
  if (chosen === 'wrk' || chosen === 'autocannon') return chosen
  if (chosen) throw new Error(`BENCH_LOAD_TOOL must be wrk or autocannon, not "${chosen}"`)
  return spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk'
}

export function runLoad(input: LoadInput): Promise<LoadSummary> {
  if (input.load.rate) return runOpenLoop(input, input.load.rate)
  return loadTool() === 'wrk' ? runWrk(input) : runAutocannon(input)
}

async function runOpenLoop(input: LoadInput, rate: number): Promise<LoadSummary> {
  const load = { ...input.load, rate }
  const paths = shuffled(load.paths ?? [load.path ?? '/'])
  if (input.warmup > 0) await openLoop(input.url, load, input.warmup, paths)
  process.stdout.write(`${MEASURING}\n`)
  const cpuBefore = process.cpuUsage()
  const result = await openLoop(input.url, load, load.duration ?? 10, paths)
  const cpu = process.cpuUsage(cpuBefore)
  const at = (p: number) => Number(percentile(result.latencies, p).toFixed(3))
  const sum = result.latencies.reduce((total, ms) => total + ms, 0)
  return {
    url: input.url,
    rps: Math.round(result.requests / result.seconds),
    requests: result.requests,
    seconds: Math.round(result.seconds),
    latency: {
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p97_5: at(97.5),
      p99: at(99),
      max: at(100),
      mean: result.requests > 0 ? Number((sum / result.requests).toFixed(3)) : 0,
    },
    errors: result.non2xx + result.connectionErrors,
    non2xx: result.non2xx,
    connectionErrors: result.connectionErrors,
    timeouts: 0,
    statusCodes: result.non2xx > 0 ? { '4xx/5xx': result.non2xx } : {},
    cpuMs: Math.round(cpuMsOf(cpu)),
  }
}

async function runAutocannon(input: LoadInput): Promise<LoadSummary> {
  const { load } = input
  const connections = load.connections ?? 64
  const options: autocannon.Options = {
    url: input.url + (load.path ?? ''),
    connections,
    timeout: load.timeout ?? 10,
    pipelining: load.pipelining ?? 1,
    method: load.method ?? 'GET',
    headers: load.headers,
    body: load.body,
    // Many ids: a shuffled list, built once (a per-request setupRequest would cost the
    // load generator CPU that the server under test shares), entered at a different point
    // by each connection.
    requests: load.paths ? [{ path: load.paths[0] }] : undefined,
    setupClient: load.paths ? (staggered(load.paths, connections) as unknown as autocannon.Options['setupClient']) : undefined,
  }
  if (input.warmup > 0) await autocannon({ ...options, duration: input.warmup })
  // The harness counts the servers' CPU from here (MEASURING) to this process's exit.
  process.stdout.write(`${MEASURING}\n`)
  const cpuBefore = process.cpuUsage()
  const result = await autocannon({ ...options, duration: load.duration ?? 10 })
  const cpu = process.cpuUsage(cpuBefore)
  const statusCodes: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0
  return {
    url: input.url,
    rps: Math.round(result.requests.average),
    requests: result.requests.total,
    seconds: result.duration,
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p97_5: result.latency.p97_5,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    errors: result.non2xx + result.errors,
    non2xx: result.non2xx,
    connectionErrors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  }
}

interface WrkResult {
  requests: number
  durationUs: number
  p50: number
  p90: number
  p95: number
  p97_5: number
  p99: number
  max: number
  mean: number
  connect: number
  read: number
  write: number
  status: number
  timeout: number
}

/** One wrk run of `seconds`; answers what bench/wrk.lua printed. */
function wrk(input: LoadInput, seconds: number, pathsFile: string, threads: number): Promise<WrkResult> {
  const { load } = input
  const args = [
    `--threads=${threads}`,
    `--connections=${load.connections ?? 64}`,
    `--duration=${seconds}s`,
    `--timeout=${load.timeout ?? 10}s`,
    `--script=${fileURLToPath(new URL('./wrk.lua', import.meta.url))}`,
    input.url,
  ]
  const env = {
    ...process.env,
    BENCH_WRK_PATHS: pathsFile,
    BENCH_WRK_THREADS: String(threads),
    BENCH_WRK_METHOD: load.method ?? 'GET',
    BENCH_WRK_BODY: load.body ?? '',
    BENCH_WRK_HEADERS: Object.entries(load.headers ?? {}).map(([name, value]) => `${name}: ${value}`).join('\n'),
  }
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { env, timeout: (seconds + 60) * 1000 }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((text) => text.startsWith('{'))
      if (error || !line) return reject(new Error(`wrk failed: ${error?.message ?? 'no summary'}\n${stdout}\n${stderr}`))
      resolve(JSON.parse(line) as WrkResult)
    })
  })
}

async function runWrk(input: LoadInput): Promise<LoadSummary> {
  const { load } = input
  const connections = load.connections ?? 64
  // One thread keeps wrk's own CPU lowest; a second only when one could not drive the load.
  const threads = Math.min(Number(process.env.BENCH_WRK_THREADS ?? 1), connections)
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'))
  const pathsFile = join(dir, 'paths')
  writeFileSync(pathsFile, shuffled(load.paths ?? [load.path ?? '/']).join('\n') + '\n')
  try {
    if (input.warmup > 0) await wrk(input, input.warmup, pathsFile, threads)
    process.stdout.write(`${MEASURING}\n`)
    const cpuBefore = reapedChildrenCpuMs() + cpuMsOf(process.cpuUsage())
    const result = await wrk(input, load.duration ?? 10, pathsFile, threads)
    const cpuMs = reapedChildrenCpuMs() + cpuMsOf(process.cpuUsage()) - cpuBefore
    const seconds = result.durationUs / 1e6
    const connectionErrors = result.connect + result.read + result.write + result.timeout
    return {
      url: input.url,
      rps: Math.round(result.requests / seconds),
      requests: result.requests,
      seconds: Math.round(seconds),
      latency: { p50: result.p50, p90: result.p90, p95: result.p95, p97_5: result.p97_5, p99: result.p99, max: result.max, mean: result.mean },
      errors: result.status + connectionErrors,
      non2xx: result.status,
      connectionErrors,
      timeouts: result.timeout,
      // wrk counts answers of 400 and above without telling the codes apart.
      statusCodes: result.status > 0 ? { '4xx/5xx': result.status } : {},
      cpuMs: Math.round(cpuMs),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const raw = process.argv[2] && process.argv[2] !== '-' ? process.argv[2] : await readStdin()
  const summary = await runLoad(JSON.parse(raw) as LoadInput)
  process.stdout.write(JSON.stringify(summary) + '\n')
}
