// PostgreSQL ends a session in the middle of a transaction (a restart, a failover, an
// administrator): the transaction fails with a connection error, the process goes on, and
// the pool serves the next query. postgres.js 3.4.9 threw from a deferred write on the dead
// connection instead, an uncaughtException that killed the process; patches/ carries the fix
// (porsager/postgres#1154, #1208) until a release has it.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { freshDatabase, realServers, type FreshDatabase } from '../../../test/support/db.ts'
import { isConnectionError } from './index.ts'

let db: FreshDatabase
before(async () => {
  db = await freshDatabase()
})
after(() => db?.close())

test('a transaction whose session the server ends fails cleanly, and the pool goes on', { skip: realServers ? false : 'the embedded database serves one connection' }, async () => {
  const uncaught: unknown[] = []
  const record = (error: unknown) => void uncaught.push(error)
  process.on('uncaughtException', record)
  try {
    await db.sql`create table if not exists public.closing (id int primary key)`
    await db.sql`insert into public.closing values (1) on conflict do nothing`
    // The deferred write races the close: several pauses cover the window it depends on.
    for (const pauseMs of [0, 50, 100, 200, 400, 800]) {
      const outcome = await db.sql
        .begin(async (tx) => {
          const [{ pid }] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`
          await tx`select id from public.closing where id = 1 for update`
          await db.sql`select pg_terminate_backend(${pid})`
          await sleep(pauseMs)
          await tx`select 1`
        })
        .then(() => 'committed', (error) => error)
      assert.ok(isConnectionError(outcome), `pause ${pauseMs} ms: a connection error, got ${String(outcome)}`)
      await sleep(300) // a deferred write, if any, has run by now
      const [{ ok }] = await db.sql<{ ok: number }[]>`select 1 as ok`
      assert.equal(ok, 1, 'the pool serves the next query')
    }
    assert.deepEqual(uncaught, [], 'nothing escaped as an uncaught exception')
  } finally {
    process.off('uncaughtException', record)
  }
})
