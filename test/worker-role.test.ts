// The worker role as its own process, next to an API process: it delivers the outbox's
// events, and the product-cache invalidations it makes are confirmed by the API processes
// (it must listen for their confirmations, or each one waits out its timeout with a warning
// while the serial dispatcher stands still).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { sampleProduct, startTestApp } from './support/app.ts'

const redisUrl = process.env.REDIS_URL
const embedded = !process.env.DATABASE_URL || !redisUrl

test('a worker process delivers stock events; the API processes confirm its invalidations in time', { skip: embedded && 'needs DATABASE_URL and REDIS_URL: the embedded default runs one process' }, async (t) => {
  const api = await startTestApp()
  const worker = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: api.databaseUrl, REDIS_URL: redisUrl!, INSTANCE: api.instance, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  worker.stdout!.on('data', (d) => (output += d))
  worker.stderr!.on('data', (d) => (output += d))
  const exited = new Promise((resolve) => worker.once('close', resolve))
  t.after(async () => {
    if (worker.exitCode === null) worker.kill('SIGTERM')
    await exited
    await api.close()
  })
  for (let i = 0; i < 300 && !/worker running/.test(output); i++) await sleep(100)
  assert.match(output, /worker running/)

  const token = await api.adminToken()
  const product = (await api.call('POST', '/admin/products', { token, body: sampleProduct() })).body
  const variant = product.variants[0].id
  assert.equal((await api.call('GET', `/store/products/${product.id}`)).body.variants[0].inStock, true)

  // Out of stock, five times over: each is an inventory.availability_changed the worker
  // handles by invalidating the product in every API process.
  const started = Date.now()
  for (const available of [0, 3, 0, 3, 0]) {
    assert.equal((await api.call('PUT', `/admin/inventory/${variant}`, { token, body: { available } })).status, 200)
  }
  let pending = 1
  while (pending > 0 && Date.now() - started < 30_000) {
    await sleep(50)
    ;[{ pending }] = await api.platform.sql<{ pending: number }[]>`select count(*)::int as pending from platform.outbox where dispatched_at is null`
  }
  assert.equal(pending, 0, output)
  assert.equal((await api.call('GET', `/store/products/${product.id}`)).body.variants[0].inStock, false, 'the API process dropped its copy')
  assert.doesNotMatch(output, /not every process confirmed an invalidation in time/, 'the confirmations reached the worker')
})
