// Idempotency-Keys live 24 hours: housekeeping deletes the expired ones in batches, and a key
// past its life is a new request again.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { freshDatabase, type FreshDatabase } from '../../../test/support/db.ts'
import { claimKey, finishKey, purgeExpiredKeys, requestHash } from './idempotency.ts'

let db: FreshDatabase
before(async () => {
  db = await freshDatabase()
})
after(() => db.close())

// This process, always alive: these tests are about the keys' life, not about takeovers.
const claimer = { id: 'this-process', isAlive: async () => true }
const keys = async () => (await db.sql<{ key: string }[]>`select key from orders.idempotency_keys order by key`).map((r) => r.key)
const expire = (key: string) => db.sql`update orders.idempotency_keys set expires_at = now() - interval '1 minute' where key = ${key}`

test('expired keys are purged in batches, whatever their state; live ones stay', async () => {
  for (const key of ['a-done', 'b-running', 'c-live', 'd-done']) {
    assert.equal((await claimKey(db.sql, claimer, key, requestHash({ key }))).kind, 'new')
  }
  await finishKey(db.sql, 'a-done', { status: 201, body: { id: 'ord_1' } })
  await finishKey(db.sql, 'd-done', { status: 201, body: { id: 'ord_2' } })
  for (const key of ['a-done', 'b-running', 'd-done']) await expire(key)

  assert.equal(await purgeExpiredKeys(db.sql, 2), 2)
  assert.equal(await purgeExpiredKeys(db.sql, 2), 1)
  assert.equal(await purgeExpiredKeys(db.sql, 2), 0)
  assert.deepEqual(await keys(), ['c-live'])
})

test('a key used again after its 24 hours is a new request, with a different body too', async () => {
  await claimKey(db.sql, claimer, 'reused', requestHash({ n: 1 }))
  await finishKey(db.sql, 'reused', { status: 201, body: { id: 'ord_3' } })
  await assert.rejects(claimKey(db.sql, claimer, 'reused', requestHash({ n: 2 })), /different request/)
  await expire('reused')
  assert.equal((await claimKey(db.sql, claimer, 'reused', requestHash({ n: 2 }))).kind, 'new')
})
