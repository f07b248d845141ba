// PostgreSQL ends a session in the middle of a transaction (a restart, a failover, an
// administrator): the transaction fails with a connection error, the process goes on, and
// the pool serves the next query. postgres.js 3.4.9 threw from a deferred write on the dead
// connection instead, an uncaughtException that killed the process; patches/ carries the fix
// (porsager/postgres#1154, #1208) until a release has it.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer, type AddressInfo } from 'node:net'
import { freshDatabase, realServers, type FreshDatabase } from '../../../test/support/db.ts'
import { connectDb, isConnectionError } from './index.ts'

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

test('a reserve waiting for a connection that the server ends is served once the pool reconnects (porsager/postgres#1195), not left waiting for ever', { skip: realServers ? false : 'the embedded database serves one connection' }, async () => {
  // A pool of one: the reserve waits behind a transaction's connection, which the server
  // ends. postgres.js 3.4.9 handed the waiting reserve to the reconnect and dropped it there:
  // the outbox publisher's reserve never settled, publishing stopped for good after a
  // PostgreSQL restart, and the worker could no longer shut down.
  const sql = connectDb({ url: db.url, poolSize: 1 })
  try {
    const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`
    const busy = sql`select pg_sleep(5)`.catch((error: unknown) => error)
    await sleep(100)
    const waiting = sql.reserve()
    await sleep(100)
    await db.sql`select pg_terminate_backend(${pid})`
    assert.ok(isConnectionError(await busy), 'the running query fails with its connection')
    const reserved = await Promise.race([waiting, sleep(5000).then(() => null)])
    assert.ok(reserved, 'the waiting reserve got a connection')
    const [{ ok }] = await reserved<{ ok: number }[]>`select 1 as ok`
    assert.equal(ok, 1)
    reserved.release()
    const [{ after }] = await sql<{ after: number }[]>`select 2 as after`
    assert.equal(after, 2, 'and the pool goes on once it is released')
  } finally {
    await sql.end({ timeout: 1 })
  }
})

test('a reserved connection the server ends, once released, does not poison the pool: the next queries reconnect', { skip: realServers ? false : 'the embedded database serves one connection' }, async () => {
  // postgres.js 3.4.9 put the released connection back as open though its socket was gone:
  // every later query of the pool failed CONNECTION_CLOSED, for good (a PostgreSQL restart
  // while the outbox publisher or a checkout's transaction held a connection).
  const sql = connectDb({ url: db.url, poolSize: 1 })
  try {
    const reserved = await sql.reserve()
    const [{ pid }] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`
    await db.sql`select pg_terminate_backend(${pid})`
    await sleep(100)
    assert.ok(isConnectionError(await reserved`select 1`.then(() => null, (error: unknown) => error)), 'the dead connection fails its query')
    reserved.release()
    for (let i = 0; i < 3; i++) {
      const [{ ok }] = await sql<{ ok: number }[]>`select 1 as ok`
      assert.equal(ok, 1, `query ${i} after the release`)
    }
    const again = await sql.reserve()
    assert.equal((await again<{ ok: number }[]>`select 1 as ok`)[0].ok, 1, 'and reserving again works')
    again.release()
  } finally {
    await sql.end({ timeout: 1 })
  }
})

test('an address that accepts and hangs up at once (no PostgreSQL behind it) fails the query, not reconnecting thousands of times a second for ever', { timeout: 30_000 }, async (t) => {
  let accepted = 0
  const server = createServer((socket) => {
    accepted++
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => void server.close())
  const sql = connectDb({ url: `postgres://postgres@127.0.0.1:${(server.address() as AddressInfo).port}/nothing`, poolSize: 1 })
  try {
    const outcome = await sql`select 1`.then(() => 'answered', (error: unknown) => error)
    assert.ok(isConnectionError(outcome), `a connection error, got ${String(outcome)}`)
    await sleep(500)
    assert.ok(accepted < 20, `${accepted} connections opened`)
  } finally {
    await sql.end({ timeout: 1 })
  }
})
