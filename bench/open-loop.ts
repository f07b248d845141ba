// The open-loop load: requests arrive at a fixed rate whether or not earlier ones have been
// answered, the way shoppers arrive, and each latency counts from the moment its request was
// due. wrk and autocannon are closed loops: a connection sends its next request only after
// the answer, so a slow server is asked less, and at saturation their latency is just
// connections / throughput. A goal such as "p95 at or under 50 ms at 300 queries/s" is a
// statement about an arrival rate, and only an open loop measures it.
import { LeanPool, rawRequest } from './lib/lean-http.ts'
import type { LoadOptions } from './scenarios/types.ts'

export interface OpenLoopResult {
  /** Answered requests. */
  requests: number
  /** From the first due time to the last answer. */
  seconds: number
  /** Milliseconds from each request's due time to its answer, sorted. */
  latencies: Float64Array
  non2xx: number
  connectionErrors: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Sends `rate` requests per second for `seconds` over at most `connections` sockets (beyond
 * them requests wait in the client's queue, and that wait is counted), walking `paths`.
 */
export async function openLoop(url: string, load: LoadOptions & { rate: number }, seconds: number, paths: readonly string[]): Promise<OpenLoopResult> {
  const { hostname, port, host } = new URL(url)
  const pool = new LeanPool(hostname, Number(port), load.connections ?? 64)
  const method = load.method ?? 'GET'
  const requests = paths.map((path) => rawRequest(host, method, path, load.headers, load.body))
  const total = Math.max(1, Math.round(load.rate * seconds))
  const latencies = new Float64Array(total)
  let answered = 0
  let non2xx = 0
  let connectionErrors = 0
  let lastAnswer = 0
  const pending: Promise<void>[] = []
  const start = performance.now() + 5
  const dueAt = (i: number) => start + (i * 1000) / load.rate

  const send = (i: number) => {
    const due = dueAt(i)
    return pool.request(requests[i % requests.length]).then(
      (status) => {
        lastAnswer = performance.now()
        latencies[answered++] = lastAnswer - due
        if (status >= 400) non2xx++
      },
      () => {
        connectionErrors++
      },
    )
  }

  // Send whatever has come due, then sleep until the next is due (at least 1 ms: at high
  // rates a wake-up sends a batch, where a timer per request would cost the load generator
  // more than the requests).
  for (let i = 0; i < total; ) {
    const now = performance.now()
    while (i < total && dueAt(i) <= now) pending.push(send(i++))
    if (i < total) await sleep(Math.max(1, Math.floor(dueAt(i) - performance.now())))
  }
  // Answers still missing this long after the last request was sent count as errors.
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, (load.timeout ?? 10) * 1000, 'timeout')))
  if ((await Promise.race([Promise.all(pending), timeout])) === 'timeout') connectionErrors = total - answered
  clearTimeout(timer)
  pool.close()
  const measured = latencies.subarray(0, answered).sort()
  return { requests: answered, seconds: Math.max(lastAnswer - start, 1) / 1000, latencies: measured, non2xx, connectionErrors }
}
