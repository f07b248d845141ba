// `npm start` with nothing configured: PGlite, the in-process KV, a seeded demo catalog.
// Runs the real CLI as a child process with an empty environment, so it also proves a
// machine without PostgreSQL, Redis or NATS serves the demo catalog.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { spawnShop } from './support/processes.ts'

/** Runs a role that is expected to stop by itself (a refused start): its exit code and output. */
function runToExit(role: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    }),
  )
}

test('a DATA_DIR that cannot hold the database stops the start with one line naming it (exit 78)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shop-embedded-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'a-file')
  writeFileSync(file, 'not a folder')
  const { code, output } = await runToExit('start', { DATA_DIR: file })
  assert.equal(code, 78, output)
  assert.match(output, /^Bad setting DATA_DIR: .*a-file.*ENOTDIR/m)
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace')
})

test('start with nothing configured serves a seeded demo catalog, drains on SIGTERM and keeps its data', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shop-embedded-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'info', ADMIN_EMAIL: 'admin@shop.test', ADMIN_PASSWORD: 'admin-password-1' }

  const shop = await spawnShop('start', env, 240_000)
  try {
    const ready = await (await fetch(`${shop.url}/health/ready`)).json()
    assert.deepEqual(Object.keys(ready.checks).sort(), ['kv', 'postgres'], 'no Redis or NATS configured')

    const products: { id: string; brand: string; category: string; description: string; images: string[]; variants: unknown[] }[] = []
    let cursor: string | null = null
    do {
      const res: Response = await fetch(`${shop.url}/store/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`)
      assert.equal(res.status, 200)
      const page = (await res.json()) as { items: typeof products; nextCursor: string | null }
      products.push(...page.items)
      cursor = page.nextCursor
    } while (cursor)
    assert.ok(products.length >= 500, `${products.length} products`)
    assert.ok(new Set(products.map((p) => p.brand)).size >= 10, 'at least 10 brands')
    assert.ok(new Set(products.map((p) => p.category.split('/')[0])).size >= 1)
    const categories = (await (await fetch(`${shop.url}/store/categories`)).json()) as { items: { children: unknown[] }[] }
    const countNodes = (nodes: { children: unknown[] }[]): number =>
      nodes.reduce((n, node) => n + 1 + countNodes(node.children as { children: unknown[] }[]), 0)
    assert.ok(countNodes(categories.items) >= 10, 'at least 10 categories')
    assert.ok(products.every((p) => p.variants.length >= 1 && p.description.length > 0 && p.images.length > 0))

    const page = await fetch(`${shop.url}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)

    // A second start on the same data folder is refused before it opens it (two writers
    // lose each other's writes, or leave a folder that no longer opens).
    await assert.rejects(spawnShop('start', env, 60_000), (error: Error) => {
      assert.match(error.message, /exited with 1/)
      assert.match(error.message, new RegExp(`in use by another shop process \\(pid ${shop.child.pid}\\)`))
      assert.doesNotMatch(error.message, /\n\s+at /, 'one line, no stack trace')
      return true
    })
    assert.equal((await fetch(`${shop.url}/health/ready`)).status, 200, 'the first one serves on')
    assert.match(shop.output(), /creating the embedded database \(PGlite\): a first start takes a while/)

    // Its port taken, a start on a folder of its own stops, and lets go of that folder.
    const otherDir = mkdtempSync(join(tmpdir(), 'shop-embedded-'))
    t.after(() => rmSync(otherDir, { recursive: true, force: true }))
    const busy = await runToExit('start', { DATA_DIR: otherDir, SEED_DEMO: 'false', LOG_LEVEL: 'warn', PORT: new URL(shop.url).port })
    assert.equal(busy.code, 1, busy.output)
    assert.match(busy.output, /is in use: stop what listens there, or set PORT/)
    assert.ok(existsSync(join(otherDir, 'pglite')), 'it had opened its database')
    assert.ok(!existsSync(join(otherDir, 'pglite', 'shop.lock')), 'and released its folder')

    // SIGTERM while a request is in flight: the request still completes, then the process exits 0.
    const inFlight = fetch(`${shop.url}/store/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@shop.test', password: 'admin-password-1' }),
    })
    await new Promise((r) => setTimeout(r, 20))
    const code = await shop.stop('SIGTERM')
    const login = await inFlight
    assert.equal(login.status, 200)
    assert.equal(code, 0, shop.output())
  } finally {
    await shop.stop('SIGKILL')
  }

  assert.ok(existsSync(join(dataDir, 'pglite')), 'data lives under DATA_DIR')
  const lock = join(dataDir, 'pglite', 'shop.lock')
  assert.ok(!existsSync(lock), 'the lock is released at shutdown')
  // A lock left by a process that is gone (kill -9) is taken over; and where the OS tells when a
  // process started (Linux), one whose pid now belongs to another process (pids start over after
  // a reboot) too.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid
  const reused = existsSync('/proc/self/stat') ? spawn('sleep', ['120']) : null
  t.after(() => reused?.kill())
  writeFileSync(lock, reused ? `${reused.pid} 00000000-0000-0000-0000-000000000000:1` : String(gone))
  // Second start on the same data: nothing is seeded twice.
  const again = await spawnShop('start', env, 240_000)
  try {
    const first = (await (await fetch(`${again.url}/store/products?limit=100`)).json()) as { items: unknown[] }
    assert.equal(first.items.length, 100)
    assert.doesNotMatch(again.output(), /seeding the demo catalog/)
    assert.match(again.output(), /"opening the embedded database \(PGlite\)"/, 'no first start this time')
    assert.ok(existsSync(lock), 'the stale lock was taken over: this process holds it')
  } finally {
    assert.equal(await again.stop('SIGTERM'), 0)
  }
})

test('the gateway role whose port is taken says to set GATEWAY_PORT, its own setting', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => taken.close(resolve)))
  const port = String((taken.address() as AddressInfo).port)
  const busy = await runToExit('gateway', { GATEWAY_SECRET: 'a-gateway-secret-long-enough', GATEWAY_PORT: port, LOG_LEVEL: 'warn' })
  assert.equal(busy.code, 1, busy.output)
  assert.match(busy.output, new RegExp(`Port ${port} is in use: stop what listens there, or set GATEWAY_PORT`))
})

test('a database that cannot be reached, or a HOST that is no address, stops a role with one line naming the setting, not a stack trace', async () => {
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise((resolve) => closed.close(resolve)) // nothing listens there now
  const migrate = await runToExit('migrate', { DATABASE_URL: `postgres://postgres:secret-pw@127.0.0.1:${port}/shop`, LOG_LEVEL: 'warn' })
  assert.equal(migrate.code, 1, migrate.output)
  assert.match(migrate.output, new RegExp(`Cannot use the database at DATABASE_URL \\(127\\.0\\.0\\.1:${port}/shop\\)`))
  assert.doesNotMatch(migrate.output, /\n\s+at /, 'no stack trace')
  assert.doesNotMatch(migrate.output, /secret-pw/, 'the password is not printed')

  const host = await runToExit('gateway', { GATEWAY_SECRET: 'a-gateway-secret-long-enough', GATEWAY_PORT: '0', HOST: 'no-such-host.invalid', LOG_LEVEL: 'warn' })
  assert.equal(host.code, 78, host.output)
  assert.match(host.output, /Bad setting HOST/)
})
