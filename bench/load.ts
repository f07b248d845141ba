// The load generator, in its own process so that it has its own event loop:
//   node --import tsx bench/load.ts '<json>'      (or the JSON on stdin)
// where <json> is { "url": "http://127.0.0.1:3000", "warmup": 3, "load": LoadOptions }.
// Prints one line of JSON: the LoadSummary.
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
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
  latency: { p50: number; p90: number; p97_5: number; p99: number; max: number; mean: number }
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

export async function runLoad(input: LoadInput): Promise<LoadSummary> {
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

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const raw = process.argv[2] && process.argv[2] !== '-' ? process.argv[2] : await readStdin()
  const summary = await runLoad(JSON.parse(raw) as LoadInput)
  process.stdout.write(JSON.stringify(summary) + '\n')
}
