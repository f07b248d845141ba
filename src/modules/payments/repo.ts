// SQL for the payments schema: plain rows in and out.
import type { Db } from '../../platform/db/index.ts'
import { deleteBatch } from '../../platform/db/delete-batch.ts'
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

/**
 * A processor redelivers an event for days at most (Stripe: three), so a recorded event id
 * is needed for deduplication only that long; 30 days also leaves a month to look into what
 * the processor said. Without a limit the table grows by one row per order, forever.
 */
export const WEBHOOK_EVENT_RETENTION_DAYS = 30

/** Deletes up to `batch` webhook events received before the retention window (BRIN on received_at); answers how many. */
export async function purgeOldWebhookEvents(db: Db, options: { retentionDays?: number; batch?: number } = {}): Promise<number> {
  const days = options.retentionDays ?? WEBHOOK_EVENT_RETENTION_DAYS
  return deleteBatch(db, {
    table: 'payments.webhook_events',
    key: 'event_id',
    where: db`received_at < now() - ${days} * interval '1 day'`,
    limit: options.batch ?? 5000,
  })
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
