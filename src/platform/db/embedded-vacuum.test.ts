import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { freshDatabase, type FreshDatabase } from '../../../test/support/db.ts'
import { embeddedVacuumTask } from './embedded-vacuum.ts'

let db: FreshDatabase
before(async () => {
  db = await freshDatabase()
})
after(() => db?.close())

test('the embedded vacuum task analyses the database (statistics the planner had never had), then waits its interval', async () => {
  await db.sql`insert into platform.outbox (event_id, type, payload) select gen_random_uuid(), 'test.vacuum', '{}'::jsonb from generate_series(1, 50)`
  const task = embeddedVacuumTask(db.sql, 60_000)
  assert.equal(await task.run(), 0)
  assert.equal(task.runs(), 1)
  const [{ reltuples }] = await db.sql<{ reltuples: number }[]>`select reltuples::float8 as reltuples from pg_class where oid = 'platform.outbox'::regclass`
  assert.ok(reltuples >= 50, `statistics counted the rows: ${reltuples}`)
  await task.run()
  assert.equal(task.runs(), 1, 'not again within the interval')
})
