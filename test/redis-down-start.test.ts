// An API process started while Redis is away starts (it did not: a replaced or added process
// crash-looped through a Redis outage): product pages and search answer from PostgreSQL,
// carts and sessions 503, readiness says Redis is down; once Redis answers, it is ready and
// carts work, with no restart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sampleProduct, startTestApp } from './support/app.ts'
import { freePort } from './support/processes.ts'

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
const skip = !process.env.DATABASE_URL || !process.env.REDIS_URL ? 'needs DATABASE_URL and REDIS_URL (CI sets them)' : !hasRedisServer ? 'no redis-server binary to start a Redis of its own' : false

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read().catch(() => undefined as T)
    if (value !== undefined && done(value)) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`)
    await sleep(200)
  }
}

test('an API process starts while Redis is away, serves the catalog, and takes carts once Redis answers', { skip }, async (t) => {
  // A migrated database with a product in it (through an app on the shared Redis).
  const seeded = await startTestApp()
  const product = (await seeded.call('POST', '/admin/products', { token: await seeded.adminToken(), body: sampleProduct({ name: 'Outage Lantern' }) })).body
  await seeded.drainEvents()

  const [redisPort, apiPort] = [await freePort(), await freePort()]
  const api = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'api'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: seeded.databaseUrl,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      INSTANCE: `rds${randomBytes(4).toString('hex')}`,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  api.stdout!.on('data', (d) => (output += d))
  api.stderr!.on('data', (d) => (output += d))
  const apiExited = new Promise((resolve) => api.once('close', resolve))
  let redis: ReturnType<typeof spawn> | null = null
  t.after(async () => {
    if (api.exitCode === null) api.kill('SIGTERM')
    await apiExited
    redis?.kill('SIGKILL')
    await seeded.close()
  })

  const url = `http://127.0.0.1:${apiPort}`
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(url + path, init)
    return { status: res.status, body: await res.json().catch(() => null) }
  }
  await until('the process answers', () => get('/health/live'), (res) => res.status === 200).catch((error) => {
    throw new Error(`${error.message}\n${output}`)
  })
  const ready = await get('/health/ready')
  assert.equal(ready.status, 503, 'not ready while Redis is away')
  assert.match(ready.body.checks.kv, /^down/)
  assert.equal((await get(`/store/products/${product.id}`)).status, 200, 'the catalog answers from PostgreSQL')
  assert.equal((await get(`/store/search?q=${encodeURIComponent('outage lantern')}`)).body.items[0]?.id, product.id)
  assert.equal((await get('/store/carts', { method: 'POST' })).status, 503, 'carts live in Redis: 503')

  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await until('ready once Redis answers', () => get('/health/ready'), (res) => res.status === 200)
  const cart = await get('/store/carts', { method: 'POST' })
  assert.equal(cart.status, 201, 'carts work, with no restart')
  assert.equal((await get(`/store/carts/${cart.body.id}`)).status, 200)
})
