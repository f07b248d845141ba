// A transaction that its process leaves idle (hung, paused) loses its row locks after
// IDLE_IN_TRANSACTION_TIMEOUT_MS instead of holding up everyone who needs those rows.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDatabase, realServers } from '../../test/support/db.ts'
import { loadConfig } from '../config.ts'
import { migrate } from './db/migrate.ts'
import { openPlatform, type Platform } from './index.ts'
import { createLogger } from './telemetry/log.ts'
import { createMetrics } from './telemetry/metrics.ts'

let database: { url: string; drop(): Promise<void> }
let platform: Platform

before(async () => {
  database = await createDatabase()
  const config = loadConfig({ DATABASE_URL: database.url, DB_POOL_SIZE: '4', LOG_LEVEL: 'silent' })
  platform = await openPlatform(config, { inMemory: true, log: createLogger('silent'), metrics: createMetrics(false), idleInTransactionTimeoutMs: 500 })
  await migrate(platform.sql)
})
after(async () => {
  await platform?.close()
  await database?.drop()
})

test('every session starts with the idle-in-transaction limit', async () => {
  const [row] = await platform.sql<{ limit: string }[]>`select current_setting('idle_in_transaction_session_timeout') as limit`
  assert.equal(row.limit, realServers ? '500ms' : row.limit)
  if (realServers) {
    const searchPool = platform.openPool({ work_mem: '8MB' })!
    const [search] = await searchPool<{ limit: string; mem: string }[]>`
      select current_setting('idle_in_transaction_session_timeout') as limit, current_setting('work_mem') as mem`
    assert.deepEqual(search, { limit: '500ms', mem: '8MB' }, 'a pool with settings of its own keeps the limit too')
  }
})

test('a row lock held by an idle transaction is released when the limit ends it', { skip: realServers ? false : 'the embedded database serves one connection' }, async () => {
  const [{ id }] = await platform.sql<{ id: string }[]>`
    insert into platform.outbox (event_id, type, payload) values (gen_random_uuid(), 'test.lock', '{}') returning id`
  let holderError: unknown = null
  let holderWokeUp = false
  const holder = platform.sql
    .begin(async (tx) => {
      await tx`select id from platform.outbox where id = ${id} for update`
      await sleep(5000) // the "hung" process: idle inside its transaction, ten times the limit
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
