// The outbox's events in NATS JetStream (DESIGN.md: order events through JetStream, durable,
// deduplicated by message id): every committed event is stored once, in order, under its
// event id, even when a batch goes out twice; while NATS is unreachable the events wait in
// the outbox (housekeeping keeps them) and the in-process handlers go on without it.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, nanos, type NatsConnection } from 'nats'
import { DUPLICATE_WINDOW_MS, eventStream } from '../src/platform/bus/jetstream.ts'
import { sampleProduct, startTestApp, type TestApp } from './support/app.ts'
import { proxyFor } from './support/tcp-proxy.ts'

const natsUrl = process.env.NATS_URL
const skip = !natsUrl && 'needs NATS_URL (CI sets it): the embedded default dispatches in-process only'

interface OutboxRow {
  event_id: string
  type: string
  published_at: Date | null
}

const outbox = (app: TestApp) => app.platform.sql<OutboxRow[]>`select event_id, type, published_at from platform.outbox order by id`

/** The stream's messages in order: subject, message id and the event it carries. */
async function streamMessages(nats: NatsConnection, instance: string) {
  const jsm = await nats.jetstreamManager()
  const name = eventStream(instance).name
  const info = await jsm.streams.info(name)
  const messages = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(name, { seq })
    messages.push({ subject: message.subject, msgId: message.header?.get('Nats-Msg-Id'), event: message.json<{ eventId: string; type: string; payload: unknown }>() })
  }
  return messages
}

async function checkout(app: TestApp, variantId: string): Promise<number> {
  const cart = (await app.call('POST', '/store/carts')).body.id
  await app.call('POST', `/store/carts/${cart}/items`, { body: { variantId, quantity: 1 } })
  const order = await app.call('POST', `/store/carts/${cart}/checkout`, {
    headers: { 'idempotency-key': `jetstream-${randomBytes(6).toString('hex')}` },
    body: {
      email: 'stream@example.com',
      shippingAddress: { name: 'Stream Shopper', line1: '1 Queue St', city: 'Springfield', postalCode: '12345', country: 'US' },
      payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2030, cvc: '123' } },
    },
  })
  return order.status
}

/** An app whose NATS sits behind a proxy that can be cut or hung (cut before the app starts, with cutFirst). */
async function appBehindNatsProxy(t: TestContext, options: { cutFirst?: boolean } = {}) {
  const { proxy, url: proxiedUrl } = await proxyFor(natsUrl!, 4222)
  if (options.cutFirst) await proxy.cut()
  const app = await startTestApp({ env: { NATS_URL: proxiedUrl } })
  const nats = await connect({ servers: natsUrl })
  t.after(async () => {
    proxy.unhang()
    await nats.close()
    await app.close()
    await proxy.close()
  })
  return { app, proxy, nats }
}

/** An app on the shared NATS, and a connection of the test's own to read its stream. */
async function appOnNats(t: TestContext) {
  const app = await startTestApp({ env: { NATS_URL: natsUrl! } })
  const nats = await connect({ servers: natsUrl })
  t.after(async () => {
    await nats.close()
    await app.close()
  })
  return { app, nats }
}

/** Publishes until something goes out (NATS just came back); answers how many events did. */
async function publishOnceBack(app: TestApp): Promise<number> {
  let published = 0
  for (let i = 0; i < 60 && published === 0; i++) {
    published = await app.publishEvents().catch(() => 0)
    if (published === 0) await sleep(250)
  }
  return published
}

test('every outbox event is stored in JetStream once, in order, under its event id, even when a batch goes out twice', { skip }, async (t) => {
  const { app, nats } = await appOnNats(t)
  const product = (await app.call('POST', '/admin/products', { token: await app.adminToken(), body: sampleProduct() })).body
  assert.equal(await checkout(app, product.variants[0].id), 201)

  const written = await outbox(app)
  assert.ok(written.some((row) => row.type === 'order.placed') && written.some((row) => row.type === 'order.paid'), 'the checkout wrote its events')
  assert.equal(await app.publishEvents(), written.length)
  const stored = await streamMessages(nats, app.instance)
  assert.deepEqual(
    stored.map((m) => [m.subject, m.msgId, m.event.eventId, m.event.type]),
    written.map((row) => [eventStream(app.instance).subjectOf(row.type), row.event_id, row.event_id, row.type]),
  )
  assert.ok((await outbox(app)).every((row) => row.published_at !== null), 'every row is marked published')

  // The marks are lost (a crash after the acks, before the commit): the batch goes out again.
  await app.platform.sql`update platform.outbox set published_at = null`
  assert.equal(await app.publishEvents(), written.length)
  assert.equal((await streamMessages(nats, app.instance)).length, written.length, 'JetStream dropped the repeats as duplicates')
  // For as long as a NATS restart with its acknowledgements lost may hold a batch up, not JetStream's default 2 minutes.
  const info = await (await nats.jetstreamManager()).streams.info(eventStream(app.instance).name)
  assert.equal(info.config.duplicate_window, nanos(DUPLICATE_WINDOW_MS))
  assert.ok(DUPLICATE_WINDOW_MS >= 20 * 60_000)
})

test('NATS unreachable: events wait in the outbox and housekeeping keeps them, handlers go on; they are published once NATS is back', { skip }, async (t) => {
  const { app, proxy, nats } = await appBehindNatsProxy(t)
  const token = await app.adminToken()
  await app.publishEvents() // the stream exists, nothing pending

  await proxy.cut()
  const product = (await app.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Unstreamed Lantern' }) })).body
  await assert.rejects(app.publishEvents(), 'publishing fails while NATS is unreachable')
  const waiting = await outbox(app)
  assert.ok(waiting.length > 0 && waiting.every((row) => row.published_at === null), 'the events wait in the outbox')

  // The in-process handlers do not wait for NATS: search indexes the product now.
  assert.ok((await app.drainEvents()) > 0)
  const found = await app.call('GET', `/store/search?q=${encodeURIComponent('unstreamed lantern')}`)
  assert.equal(found.body.items[0]?.id, product.id)

  // Delivered in-process and past the retention window, but not in JetStream yet: kept.
  await app.platform.sql`update platform.outbox set created_at = now() - interval '30 days'`
  await app.housekeep()
  assert.equal((await outbox(app)).length, waiting.length, 'housekeeping keeps events JetStream has not stored')

  const backlog = async (state: string) => Number(new RegExp(`^outbox_backlog_events\\{state="${state}"\\} (\\d+)`, 'm').exec(await (await fetch(`${app.url}/metrics`)).text())?.[1])
  assert.equal(await backlog('unpublished'), waiting.length, 'the backlog shows in /metrics')
  assert.equal(await backlog('undelivered'), 0)

  await proxy.restore()
  const published = await publishOnceBack(app)
  assert.equal(published, waiting.length, 'once NATS is back the waiting events go out')
  assert.equal(await backlog('unpublished'), 0)
  const stored = await streamMessages(nats, app.instance)
  assert.deepEqual(
    stored.map((m) => m.msgId),
    waiting.map((row) => row.event_id),
  )
  await app.housekeep()
  assert.equal((await outbox(app)).length, 0, 'published and delivered: housekeeping removes them')
})

test('the stream gone (NATS back without its storage, or deleted): it is made again and the waiting events go out', { skip }, async (t) => {
  const { app, nats } = await appOnNats(t)
  const token = await app.adminToken()
  await app.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Before Lantern' }) })
  assert.ok((await app.publishEvents()) > 0)

  const before = new Set((await outbox(app)).map((row) => row.event_id))
  await (await nats.jetstreamManager()).streams.delete(eventStream(app.instance).name)
  await app.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'After Lantern' }) })
  const after = (await outbox(app)).filter((row) => !before.has(row.event_id))
  assert.ok(after.length > 0)
  assert.equal(await publishOnceBack(app), after.length, 'published into a stream made again')
  assert.deepEqual((await outbox(app)).filter((row) => row.published_at === null), [], 'nothing left waiting')
  assert.deepEqual((await streamMessages(nats, app.instance)).map((m) => m.msgId), after.map((row) => row.event_id))
})

test('NATS hanging: a publish waiting for its acknowledgements holds up no in-process handler', { skip }, async (t) => {
  const { app, proxy, nats } = await appBehindNatsProxy(t)
  const token = await app.adminToken()
  await app.publishEvents() // the stream exists, nothing pending

  proxy.hang()
  const product = (await app.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Stalled Semaphore' }) })).body
  // The publish sends its batch and waits for acknowledgements that do not come (up to its
  // 5 s ack timeout); meanwhile the dispatcher delivers the same events to the handlers.
  const stuck = app.publishEvents()
  stuck.catch(() => {})
  await sleep(300)
  const started = Date.now()
  assert.ok((await app.drainEvents()) > 0, 'the events are delivered in-process while the publish waits')
  assert.ok(Date.now() - started < 2000, `delivered without waiting for the publish (${Date.now() - started} ms)`)
  const found = await app.call('GET', `/store/search?q=${encodeURIComponent('stalled semaphore')}`)
  assert.equal(found.body.items[0]?.id, product.id)

  await assert.rejects(stuck, 'the publish gives up at its ack timeout')
  proxy.unhang()
  const published = await publishOnceBack(app)
  assert.ok(published > 0, 'once NATS answers again the events go out')
  const stored = await streamMessages(nats, app.instance)
  const rows = await outbox(app)
  assert.deepEqual(stored.map((m) => m.msgId), rows.map((row) => row.event_id), 'each event stored once, in order')
  assert.ok(rows.every((row) => row.published_at !== null))
})

test('NATS unreachable at start: the app starts and is ready (NATS reported down), and publishes once NATS appears', { skip }, async (t) => {
  const { app, proxy, nats } = await appBehindNatsProxy(t, { cutFirst: true })
  const ready = await app.call('GET', '/health/ready')
  assert.equal(ready.status, 200, JSON.stringify(ready.body))
  assert.match(ready.body.checks.nats, /^down/, 'reported, without taking the API out of rotation')
  assert.equal(ready.body.checks.postgres, 'ok')

  const product = (await app.call('POST', '/admin/products', { token: await app.adminToken(), body: sampleProduct({ name: 'Latecomer Kettle' }) })).body
  await assert.rejects(app.publishEvents(), /not connected/)
  assert.ok((await app.drainEvents()) > 0, 'the in-process handlers go on')
  assert.equal((await app.call('GET', `/store/search?q=${encodeURIComponent('latecomer kettle')}`)).body.items[0]?.id, product.id)

  await proxy.restore()
  const published = await publishOnceBack(app)
  assert.ok(published > 0, 'connected in the background, the waiting events go out')
  const rows = await outbox(app)
  assert.deepEqual((await streamMessages(nats, app.instance)).map((m) => m.msgId), rows.map((row) => row.event_id))
  assert.equal((await app.call('GET', '/health/ready')).body.checks.nats, 'ok')
})
