// A separate worker without GATEWAY_URL cannot pay back a charge (the gateway that took it is
// another process's): it must leave those events for a worker that can, not mark them done.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createWorker } from '../src/app.ts'
import { writeEvent } from '../src/platform/bus/outbox.ts'
import { startTestApp, type TestApp } from './support/app.ts'

let t: TestApp
before(async () => {
  t = await startTestApp()
})
after(() => t.close())

test('refund events wait for a worker with the gateway: one without fails them (retried), it never marks them done', async () => {
  await t.drainEvents()
  const orderId = `ord_${randomUUID()}`
  await t.platform.sql.begin(async (tx) => {
    await writeEvent(tx, 'order.duplicate_charge', { orderId, paymentId: 'pay_elsewhere' })
    await writeEvent(tx, 'order.charge_after_cancel', { orderId, paymentId: 'pay_elsewhere' })
  })
  const separate = createWorker(t.platform, t.api.modules, { sharesGatewayWithApi: false })
  await separate.dispatcher.dispatchPending()
  const rows = await t.platform.sql<{ type: string; dispatched_at: Date | null; claimed_until: Date | null }[]>`
    select type, dispatched_at, claimed_until from platform.outbox where payload->>'orderId' = ${orderId} order by id`
  assert.deepEqual(rows.map((r) => [r.type, r.dispatched_at]), [['order.duplicate_charge', null], ['order.charge_after_cancel', null]])
  assert.ok(rows.every((r) => r.claimed_until !== null), 'tried, and left claimed until the claim runs out: then another worker takes them')
})
