// The api role's cluster primary replaces a worker that dies, so the machine keeps serving
// on every core; on SIGTERM it stops them all and replaces none.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { get } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { startTestApp, type TestApp } from './support/app.ts'
import { spawnShop, type ShopProcess } from './support/processes.ts'

const redisUrl = process.env.REDIS_URL
const embedded = !process.env.DATABASE_URL || !redisUrl

/** Pids of the live processes whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = []
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) === pid && fields[0] !== 'Z') found.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

function statusOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on('error', reject)
  })
}

async function waitFor<T>(what: string, probe: () => T | null, context: () => string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${context()}`)
    await sleep(100)
  }
}

test('a dead api worker is replaced; SIGTERM stops them all', { skip: embedded && 'needs DATABASE_URL and REDIS_URL: the embedded default runs one process' }, async (t) => {
  let app: TestApp | undefined
  let api: ShopProcess | undefined
  t.after(async () => {
    await api?.stop('SIGKILL')
    await app?.close()
  })
  app = await startTestApp()
  api = await spawnShop('api', { DATABASE_URL: app.databaseUrl, REDIS_URL: redisUrl!, INSTANCE: app.instance, LOG_LEVEL: 'info', WEB_CONCURRENCY: '2' })
  const primary = api.child.pid!
  const output = () => api!.output()
  // Each worker logs "listening" once it serves the port.
  const listening = () => output().match(/"msg":"listening"/g)?.length ?? 0
  // Both serving before one dies: killed while it was the only listener, the port would close.
  await waitFor('two workers listening', () => (listening() === 2 ? true : null), output)
  const workers = childrenOf(primary)
  assert.equal(workers.length, 2)

  // /metrics answers for the whole machine, whichever process takes the scrape: ten
  // requests spread over both processes are ten in every scrape.
  for (let i = 0; i < 10; i++) assert.equal(await statusOnNewConnection(`${api.url}/health/live`), 200)
  const liveCount = async () => {
    const text = await (await fetch(`${api.url}/metrics`, { headers: { connection: 'close' } })).text()
    return Number(/http_request_duration_seconds_count\{[^}]*route="\/health\/live"[^}]*\} (\d+)/.exec(text)?.[1])
  }
  for (let i = 0; i < 4; i++) assert.equal(await liveCount(), 10)

  process.kill(workers[0], 'SIGKILL')
  const replaced = await waitFor('a replacement worker', () => {
    const now = childrenOf(primary)
    return now.length === 2 && !now.includes(workers[0]) ? now : null
  }, output)
  assert.ok(replaced.includes(workers[1]), 'the other worker kept running')
  await waitFor('the replacement listening', () => (listening() === 3 ? true : null), output)
  assert.match(api.output(), /exited \(SIGKILL\); starting another/)
  // The port answers with the replacement among its workers. A new connection each time: a
  // kept-alive one may have belonged to the killed worker.
  for (let i = 0; i < 4; i++) assert.equal(await statusOnNewConnection(`${api.url}/health/live`), 200)

  const code = await api.stop('SIGTERM')
  assert.equal(code, 0, api.output())
  assert.equal(api.output().match(/starting another/g)?.length, 1, 'nothing was started during the shutdown')
})
