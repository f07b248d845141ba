// The limits every PostgreSQL session of ours starts with: a statement is cancelled after
// DB_STATEMENT_TIMEOUT_MS and answered 503 (nothing was changed; retry), migrations are
// exempt from that, and a transaction its process leaves idle (hung, paused) is ended after
// IDLE_IN_TRANSACTION_TIMEOUT_MS, releasing its row locks.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createDatabase, realServers } from '../../test/support/db.ts'
import { loadConfig } from '../config.ts'
import { migrate } from './db/migrate.ts'
import { openPlatform, type Platform } from './index.ts'
import { createLogger } from './telemetry/log.ts'
import { createMetrics } from './telemetry/metrics.ts'
import { buildHttpServer } from './http/server.ts'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let database: { url: string; drop(): Promise<void> }
let platform: Platform

before(async () => {
  database = await createDatabase()
  const config = loadConfig({ DATABASE_URL: database.url, DB_POOL_SIZE: '4', LOG_LEVEL: 'silent' })
  platform = await openPlatform(config, { inMemory: true, log: createLogger('silent'), metrics: createMetrics(false), statementTimeoutMs: 3000, idleInTransactionTimeoutMs: 300 })
  await migrate(platform.sql)
})
after(async () => {
  await platform?.close()
  await database?.drop()
})

test('every session starts with the limits, also in a pool with settings of its own', { skip: realServers ? false : 'PGlite has no statement timer' }, async () => {
  assert.equal((await platform.sql<{ t: string }[]>`select current_setting('statement_timeout') as t`)[0].t, '3s')
  assert.equal((await platform.sql<{ t: string }[]>`select current_setting('idle_in_transaction_session_timeout') as t`)[0].t, '300ms')
  const searchPool = platform.openPool({ work_mem: '8MB' })!
  const [search] = await searchPool<{ t: string; mem: string }[]>`select current_setting('statement_timeout') as t, current_setting('work_mem') as mem`
  assert.deepEqual(search, { t: '3s', mem: '8MB' })
  const own = platform.openPool({ statement_timeout: '1500' })!
  assert.equal((await own<{ t: string }[]>`select current_setting('statement_timeout') as t`)[0].t, '1500ms', "a pool's own limit wins (search sets its own)")
})

test('a statement past the limit is cancelled, and a request that meets it gets 503 with Retry-After', { skip: realServers ? false : 'PGlite has no statement timer' }, async () => {
  await assert.rejects(platform.sql`select pg_sleep(10)`, (error: { code?: string }) => error.code === '57014')
  const app = await buildHttpServer({
    config: { maxEventLoopDelayMs: 0 },
    log: createLogger('silent'),
    metrics: createMetrics(false),
    readiness: {},
    resolveSession: async () => null,
    routes: async (a) => {
      a.get('/slow', async () => platform.sql`select pg_sleep(10)`)
    },
  })
  try {
    const res = await app.inject({ method: 'GET', url: '/slow' })
    assert.equal(res.statusCode, 503)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.equal(res.json().code, 'unavailable')
    assert.ok(Number(res.headers['retry-after']) > 0)
  } finally {
    await app.close()
  }
})

test('migrations are exempt from the statement limit', { skip: realServers ? false : 'PGlite has no statement timer' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'))
  writeFileSync(join(dir, '999_test_slow.sql'), 'select pg_sleep(3.5);')
  assert.deepEqual(await migrate(platform.sql, dir), ['999_test_slow.sql'], 'a migration longer than the 3 s limit ran')
})

test('a row lock held by an idle transaction is released when the limit ends it', { skip: realServers ? false : 'the embedded database serves one connection' }, async () => {
  const [{ id }] = await platform.sql<{ id: string }[]>`
    insert into platform.outbox (event_id, type, payload) values (gen_random_uuid(), 'test.lock', '{}') returning id`
  let holderError: unknown = null
  let holderWokeUp = false
  const holder = platform.sql
    .begin(async (tx) => {
      await tx`select id from platform.outbox where id = ${id} for update`
      await sleep(5000) // the "hung" process: idle inside its transaction, many times the limit
      holderWokeUp = true
      await tx`select 1`
    })
    .catch((error) => (holderError = error))
  await sleep(100)
  const [locked] = await platform.sql`select id from platform.outbox where id = ${id} for update`
  assert.ok(locked, 'the row could be locked again')
  assert.equal(holderWokeUp, false, 'the lock came back while its holder was still idle, not when it woke up')
  await holder
  assert.ok(holderError, 'the idle transaction was ended: its next statement fails')
})
