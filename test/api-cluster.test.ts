// The api role's cluster primary replaces a worker that dies, so the machine keeps serving
// on every core; on SIGTERM it stops them all and replaces none.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { get } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import { sampleProduct, startTestApp, type TestApp } from './support/app.ts'
import { spawnShop, type ShopProcess } from './support/processes.ts'

const redisUrl = process.env.REDIS_URL
const embedded = !process.env.DATABASE_URL || !redisUrl

/**
 * Pids of the live api workers whose parent is `pid` (Linux /proc). Only those running
 * main.ts: the primary may also have esbuild's transform service as a child (tsx starts
 * it to compile a file its cache does not hold, as on a fresh clone).
 */
function childrenOf(pid: number): number[] {
  const found: number[] = []
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const worker = readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('src/main.ts')
      if (Number(fields[1]) === pid && fields[0] !== 'Z' && worker) found.push(Number(name))
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

const needsServers = { skip: embedded && 'needs DATABASE_URL and REDIS_URL: the embedded default runs one process' }

/** A test app (its database) and an api cluster of two processes on it, both stopped after the test. */
async function startCluster(t: TestContext, env: Record<string, string> = {}): Promise<{ app: TestApp; api: ShopProcess }> {
  const app = await startTestApp()
  let api: ShopProcess | undefined
  t.after(async () => {
    await api?.stop('SIGKILL')
    await app.close()
  })
  api = await spawnShop('api', { DATABASE_URL: app.databaseUrl, REDIS_URL: redisUrl!, INSTANCE: app.instance, LOG_LEVEL: 'info', WEB_CONCURRENCY: '2', ...env })
  return { app, api }
}

test('a dead api worker is replaced; SIGTERM stops them all', needsServers, async (t) => {
  const { api } = await startCluster(t)
  const primary = api.child.pid!
  const output = () => api.output()
  // Each worker logs "listening" once it serves the port.
  const listening = () => output().match(/"msg":"listening"/g)?.length ?? 0
  // Both serving before one dies: killed while it was the only listener, the port would close.
  await waitFor('two workers listening', () => (listening() === 2 ? true : null), output)
  const workers = childrenOf(primary)
  assert.equal(workers.length, 2, output())

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

test('an api cluster has one card simulator: a checkout retried on another process charges the order once', needsServers, async (t) => {
  // The slow card outlasts the gateway timeout: the first answer is 202, and retries resume the order.
  const { app, api } = await startCluster(t, { SIMULATOR_SLOW_MS: '1500', GATEWAY_TIMEOUT_MS: '300' })
  const token = await app.adminToken()
  const created = await app.call('POST', '/admin/products', {
    token,
    body: sampleProduct({ variants: [{ sku: `CL-${randomUUID().slice(0, 8)}`, title: 'One', price: { amount: 2500, currency: 'USD' }, stock: 5 }] }),
  })
  const variantId = created.body.variants[0].id
  const output = () => api.output()
  await waitFor('two workers listening', () => ((output().match(/"msg":"listening"/g)?.length ?? 0) === 2 ? true : null), output)
  assert.match(output(), /card simulator running in the cluster primary/)

  // A new connection for every request: the cluster hands them to its processes in turn.
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { connection: 'close', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: await res.json() }
  }
  const cart = (await call('POST', '/store/carts')).body.id
  assert.equal((await call('POST', `/store/carts/${cart}/items`, { variantId, quantity: 1 })).status, 200)
  const order = {
    email: 'shopper@shop.test',
    shippingAddress: { name: 'Ada Shopper', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    payment: { card: { number: '4000000000000259', expMonth: 12, expYear: 2031, cvc: '123' } },
  }
  const key = { 'idempotency-key': randomUUID() }
  const first = await call('POST', `/store/carts/${cart}/checkout`, order, key)
  assert.equal(first.status, 202, JSON.stringify(first.body))
  const orderId = first.body.id
  let answer = first
  for (let i = 0; i < 60 && answer.status !== 201; i++) {
    answer = await call('POST', `/store/carts/${cart}/checkout`, order, key)
    await sleep(100)
  }
  assert.equal(answer.status, 201, JSON.stringify(answer.body))
  assert.equal(answer.body.id, orderId)
  await sleep(2000) // any second charge's webhook has arrived by now
  const captured = await app.platform.sql<{ payment_id: string }[]>`
    select distinct payment_id from payments.webhook_events where order_id = ${orderId} and type = 'payment.captured'`
  assert.equal(captured.length, 1, `one charge, whichever process the retries reached: ${JSON.stringify(captured)}`)
  assert.equal(await api.stop('SIGTERM'), 0, 'the primary exits with its simulator closed')
})
