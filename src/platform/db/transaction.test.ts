// transaction(): BEGIN sent with the body's first statements, on the real server and the
// embedded one alike.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { freshDatabase, type FreshDatabase } from '../../../test/support/db.ts'
import { AppError } from '../http/errors.ts'
import { transaction } from './transaction.ts'

let db: FreshDatabase
before(async () => {
  db = await freshDatabase()
  await db.sql`create table scratch (id int primary key, note text)`
})
after(() => db.close())

const notes = async () => (await db.sql<{ id: number }[]>`select id from scratch order by id`).map((r) => r.id)

test('the body runs in one transaction and commits', async () => {
  const xids = await transaction(db.sql, async (tx) => {
    // Issued at once, with no wait: they go out behind BEGIN, in the same write.
    const [, , [first]] = await Promise.all([
      tx`insert into scratch (id, note) values (1, 'a')`,
      tx`insert into scratch (id, note) values (2, 'b')`,
      tx<{ xid: string | null }[]>`select pg_current_xact_id_if_assigned()::text as xid`,
    ])
    const [second] = await tx<{ xid: string | null }[]>`select pg_current_xact_id_if_assigned()::text as xid`
    return [first.xid, second.xid]
  })
  assert.ok(xids[0] !== null, 'the inserts ran inside a transaction block')
  assert.equal(xids[0], xids[1], 'every statement of the body in the same one')
  assert.deepEqual(await notes(), [1, 2])
})

test('an error in the body rolls back all of it, statements in flight too', async () => {
  await assert.rejects(
    transaction(db.sql, async (tx) => {
      await tx`insert into scratch (id, note) values (3, 'c')`
      throw new AppError('conflict', 'changed my mind')
    }),
    /changed my mind/,
  )
  await assert.rejects(
    transaction(db.sql, async (tx) => {
      await Promise.all([tx`insert into scratch (id, note) values (4, 'd')`, tx`insert into scratch (id, note) values (1, 'duplicate')`])
    }),
    /duplicate key/,
  )
  assert.deepEqual(await notes(), [1, 2], 'neither 3 nor 4 stayed')
  // The connection went back to the pool clean: the next transaction works.
  await transaction(db.sql, (tx) => tx`insert into scratch (id, note) values (5, 'e')`)
  assert.deepEqual(await notes(), [1, 2, 5])
})
