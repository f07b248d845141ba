// The transactional outbox against a real database: an event exists exactly when its
// transaction committed, each is delivered once (also with two dispatchers racing), a failing
// handler neither loses its event nor holds up the others, events this build writes that
// nobody here listens to are marked done in bulk, and events of types it does not know are
// left for a build that does.
import { Writable } from 'node:stream'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { freshDatabase, realServers, type FreshDatabase } from '../../../test/support/db.ts'
import { createLogger } from '../telemetry/log.ts'
import { createMetrics } from '../telemetry/metrics.ts'
import { registerOutboxBacklog } from './outbox-backlog.ts'
import { DELIVERED_RETENTION_HOURS, MAX_ATTEMPTS, OutboxDispatcher, purgeDelivered, writeEvent, type OutboxEvent } from './outbox.ts'

let db: FreshDatabase
const log = createLogger('silent')

before(async () => {
  db = await freshDatabase()
})
after(() => db.close())

const pending = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from platform.outbox where dispatched_at is null`)[0].n

test('a rolled-back event is never delivered; committed ones are delivered once each, in order, in the handler\'s transaction', async () => {
  await db.sql.begin((tx) => writeEvent(tx, 'test.kept', { n: 1 }))
  await assert.rejects(
    db.sql.begin(async (tx) => {
      await writeEvent(tx, 'test.kept', { n: 2 })
      throw new Error('the change failed')
    }),
  )
  await db.sql.begin((tx) => writeEvent(tx, 'test.kept', { n: 3 }))

  const seen: number[] = []
  const dispatcher = new OutboxDispatcher(db.sql, log, { writtenTypes: [] })
  dispatcher.on('test.kept', async (event, tx) => {
    seen.push((event.payload as { n: number }).n)
    // The handler's writes commit with the event's dispatched mark.
    await tx`select 1`
  })
  assert.equal(await dispatcher.dispatchPending(), 2)
  assert.deepEqual(seen, [1, 3])
  assert.equal(await dispatcher.dispatchPending(), 0, 'nothing is delivered twice')
  assert.equal(await pending(), 0)
})

test('a failing handler keeps its event pending and does not hold up the events behind it; it is retried when its claim runs out', async () => {
  await db.sql.begin(async (tx) => {
    await writeEvent(tx, 'test.flaky', { n: 1 })
    await writeEvent(tx, 'test.fine', { n: 2 })
  })
  let failures = 1
  const fine: number[] = []
  const dispatcher = new OutboxDispatcher(db.sql, log, { writtenTypes: [] })
  dispatcher.on('test.flaky', async () => {
    if (failures-- > 0) throw new Error('downstream is down')
  })
  dispatcher.on('test.fine', async (event) => void fine.push((event.payload as { n: number }).n))

  assert.equal(await dispatcher.dispatchPending(), 1)
  assert.deepEqual(fine, [2])
  assert.equal(await pending(), 1)
  assert.equal(await dispatcher.dispatchPending(), 0, 'still claimed: not retried in a tight loop')
  await db.sql`update platform.outbox set claimed_until = now() - interval '1 second' where type = 'test.flaky'`
  assert.equal(await dispatcher.dispatchPending(), 1)
  assert.equal(await pending(), 0)
})

test('a failing event waits longer after each failure (30 s, 60 s, 120 s ... at most 15 min), its row says how often it failed and why, and after MAX_ATTEMPTS it is set aside until replayed', async () => {
  await db.sql.begin((tx) => writeEvent(tx, 'test.poison', { n: 1 }))
  const dispatcher = new OutboxDispatcher(db.sql, log, { writtenTypes: [] })
  dispatcher.on('test.poison', async () => {
    throw new Error('the mail server said no')
  })
  const row = async () =>
    (await db.sql<{ attempts: number; last_error: string; wait: number }[]>`
      select attempts, last_error, extract(epoch from claimed_until - now())::float8 as wait from platform.outbox where type = 'test.poison'`)[0]
  const expire = () => db.sql`update platform.outbox set claimed_until = now() - interval '1 second' where type = 'test.poison'`
  const waits: number[] = []
  for (let attempt = 1; attempt <= 3; attempt++) {
    assert.equal(await dispatcher.dispatchPending(), 0)
    const { attempts, last_error, wait } = await row()
    assert.equal(attempts, attempt)
    assert.equal(last_error, 'the mail server said no')
    waits.push(Math.round(wait / 10) * 10)
    await expire()
  }
  assert.deepEqual(waits, [30, 60, 120])
  await db.sql`update platform.outbox set attempts = 40 where type = 'test.poison'`
  assert.equal(await dispatcher.dispatchPending(), 0)
  assert.ok((await row()).wait <= 15 * 60 && (await row()).wait > 14 * 60, 'capped at 15 minutes')

  // At MAX_ATTEMPTS it is set aside (dead letter): not claimed again, until an operator replays it.
  await db.sql`update platform.outbox set attempts = ${MAX_ATTEMPTS - 1} where type = 'test.poison'`
  await expire()
  assert.equal(await dispatcher.dispatchPending(), 0)
  const [dead] = await db.sql<{ dead: boolean }[]>`select dead_at is not null as dead from platform.outbox where type = 'test.poison'`
  assert.equal(dead.dead, true)
  await expire()
  let tried = 0
  const replayed = new OutboxDispatcher(db.sql, log, { writtenTypes: [] })
  replayed.on('test.poison', async () => void tried++)
  assert.equal(await replayed.dispatchPending(), 0)
  assert.equal(tried, 0, 'a dead event is not claimed')
  const metrics = createMetrics(false)
  registerOutboxBacklog(metrics, db.sql, { published: false })
  const gauge = await metrics.registry.getSingleMetricAsString('outbox_backlog_events')
  assert.match(gauge, /outbox_backlog_events\{state="dead"\} 1/, gauge)
  assert.match(gauge, /outbox_backlog_events\{state="undelivered"\} 0/, 'not counted as waiting for the worker')
  await db.sql`update platform.outbox set dead_at = null, attempts = 0 where type = 'test.poison'`
  assert.equal(await replayed.dispatchPending(), 1, 'replayed by hand, it is delivered')
  assert.equal(tried, 1)
})

test('a batch handler gets a claimed batch of its events in one transaction; a failing batch is tried event by event, and only the bad event waits', async () => {
  await db.sql.begin(async (tx) => {
    for (let n = 1; n <= 5; n++) await writeEvent(tx, 'test.batched', { n })
    await writeEvent(tx, 'test.single', { n: 6 })
  })
  const calls: number[][] = []
  const singles: number[] = []
  let afterCommits = 0
  const dispatcher = new OutboxDispatcher(db.sql, log, { writtenTypes: [] })
  dispatcher.onBatch('test.batched', async (events, tx) => {
    const ns = events.map((e) => (e.payload as { n: number }).n)
    calls.push(ns)
    await tx`select 1`
    if (ns.includes(3)) throw new Error('event 3 is bad')
    return async () => void afterCommits++
  })
  dispatcher.on('test.single', async (event) => void singles.push((event.payload as { n: number }).n))
  assert.throws(() => dispatcher.on('test.batched', async () => {}), /already has|batch handler/)

  assert.equal(await dispatcher.dispatchPending(), 5, 'all but the bad one')
  assert.deepEqual(calls, [[1, 2, 3, 4, 5], [1], [2], [3], [4], [5]])
  assert.deepEqual(singles, [6])
  assert.equal(afterCommits, 4, 'after-commit work once per committed transaction')
  const left = await db.sql<{ n: number }[]>`select (payload->>'n')::int as n from platform.outbox where dispatched_at is null`
  assert.deepEqual(left.map((r) => r.n), [3])
  await db.sql`update platform.outbox set dispatched_at = now() where dispatched_at is null`

  // A healthy batch: one call, one transaction, every event delivered.
  calls.length = 0
  await db.sql.begin(async (tx) => {
    for (let n = 7; n <= 9; n++) await writeEvent(tx, 'test.batched', { n })
  })
  assert.equal(await dispatcher.dispatchPending(), 3)
  assert.deepEqual(calls, [[7, 8, 9]])
  assert.equal(await pending(), 0)
})

test('events no handler listens to are marked delivered together', async () => {
  await db.sql.begin(async (tx) => {
    for (let n = 0; n < 5; n++) await writeEvent(tx, 'test.unheard', { n })
  })
  const dispatcher = new OutboxDispatcher(db.sql, log, { writtenTypes: ['test.unheard'] })
  assert.equal(await dispatcher.dispatchPending(), 5)
  assert.equal(await pending(), 0)
})

test('events of a type this build does not write are left waiting (a newer build\'s, in a rolling deploy), and the worker says so', async () => {
  await db.sql.begin(async (tx) => {
    await writeEvent(tx, 'test.newer_build', { n: 1 })
    await writeEvent(tx, 'test.known', { n: 2 })
  })
  const logged: { msg: string; waiting?: { type: string; events: number }[] }[] = []
  const sink = new Writable({ write: (chunk, _encoding, done) => (logged.push(JSON.parse(String(chunk))), done()) })
  const worker = new OutboxDispatcher(db.sql, createLogger('info', 'test', sink), { writtenTypes: ['test.known'] })
  assert.equal(await worker.dispatchPending(), 1, 'only the type it knows')
  const waiting = await db.sql<{ type: string; claimed: boolean }[]>`select type, claimed_until is not null as claimed from platform.outbox where dispatched_at is null`
  assert.deepEqual([...waiting], [{ type: 'test.newer_build', claimed: false }], 'not marked done, nor claimed')
  const warning = logged.find((line) => /do(es)? not know/.test(line.msg))
  assert.deepEqual(warning?.waiting, [{ type: 'test.newer_build', events: 1 }])

  const newWorker = new OutboxDispatcher(db.sql, log, { writtenTypes: ['test.known'] })
  const heard: number[] = []
  newWorker.on('test.newer_build', async (event) => void heard.push((event.payload as { n: number }).n))
  assert.equal(await newWorker.dispatchPending(), 1)
  assert.deepEqual(heard, [1], 'the build that hears it gets it')
  assert.equal(await pending(), 0)
})

test('two dispatchers racing over 300 events deliver each exactly once', { skip: realServers ? false : 'the embedded database serves one connection' }, async () => {
  for (let batch = 0; batch < 3; batch++) {
    await db.sql.begin(async (tx) => {
      for (let n = 0; n < 100; n++) await writeEvent(tx, 'test.raced', { n: batch * 100 + n })
    })
  }
  const deliveries = new Map<string, number>()
  const handler = async (event: OutboxEvent) => void deliveries.set(event.eventId, (deliveries.get(event.eventId) ?? 0) + 1)
  const dispatchers = [new OutboxDispatcher(db.sql, log, { writtenTypes: [], intervalMs: 200, batchSize: 20 }), new OutboxDispatcher(db.sql, log, { writtenTypes: [], intervalMs: 200, batchSize: 20 })]
  for (const dispatcher of dispatchers) dispatcher.on('test.raced', handler)
  const counts = await Promise.all(dispatchers.map((d) => d.dispatchPending()))
  assert.equal(counts[0] + counts[1], 300)
  assert.equal(deliveries.size, 300)
  assert.ok([...deliveries.values()].every((n) => n === 1))
  assert.equal(await pending(), 0)
})

test('housekeeping removes delivered events older than the retention window, never an undelivered one', async () => {
  await db.sql`delete from platform.outbox`
  const ids: Record<string, string> = {}
  for (const name of ['oldDelivered1', 'oldDelivered2', 'oldPending', 'newDelivered', 'newPending']) {
    ids[name] = await db.sql.begin((tx) => writeEvent(tx, 'test.purge', { name }))
  }
  const age = (names: string[], hours: number) =>
    db.sql`update platform.outbox set created_at = now() - ${hours} * interval '1 hour' where event_id = any(${names.map((n) => ids[n])}::uuid[])`
  await age(['oldDelivered1', 'oldDelivered2', 'oldPending'], DELIVERED_RETENTION_HOURS + 1)
  await db.sql`update platform.outbox set dispatched_at = now() where event_id = any(${[ids.oldDelivered1, ids.oldDelivered2, ids.newDelivered]}::uuid[])`

  assert.equal(await purgeDelivered(db.sql, { batch: 1 }), 1, 'one batch at a time')
  assert.equal(await purgeDelivered(db.sql), 1)
  assert.equal(await purgeDelivered(db.sql), 0, 'nothing more to do')
  const left = await db.sql<{ name: string }[]>`select payload->>'name' as name from platform.outbox order by id`
  assert.deepEqual(left.map((r) => r.name), ['oldPending', 'newDelivered', 'newPending'])
})
