// SQL for the payments schema: plain rows in and out.
import type { Db } from '../../platform/db/index.ts'
import type { PaymentEvent } from './gateway.ts'

/** Records a webhook event once; false when it was already recorded (a redelivery). */
export async function recordWebhookEvent(db: Db, event: PaymentEvent): Promise<boolean> {
  const rows = await db`
    insert into payments.webhook_events (event_id, type, payment_id, order_id, payload)
    values (${event.id}, ${event.type}, ${event.payment.id}, ${event.payment.orderId}, ${db.json(event as never)})
    on conflict (event_id) do nothing
    returning event_id`
  return rows.length === 1
}

export interface WebhookEventRow {
  eventId: string
  type: string
  paymentId: string
  orderId: string
  receivedAt: Date
}

export async function webhookEventsForPayment(db: Db, paymentId: string): Promise<WebhookEventRow[]> {
  return db<WebhookEventRow[]>`
    select event_id as "eventId", type, payment_id as "paymentId", order_id as "orderId", received_at as "receivedAt"
    from payments.webhook_events where payment_id = ${paymentId} order by received_at, event_id`
}
