// A verified payment event arrives: record it once and let the subscribers act on it, all
// in one transaction. A redelivered event finds its id recorded and changes nothing; a
// subscriber that fails rolls the record back, so the processor's retry tries again.
import type { Sql, Tx } from '../../platform/db/index.ts'
import type { PaymentEvent } from './gateway.ts'
import { recordWebhookEvent } from './repo.ts'
import { transaction } from '../../platform/db/transaction.ts'

/**
 * Runs inside the transaction that records the event, only the first time it arrives.
 * Write through `tx` (on the embedded PGlite it is the only connection there is).
 */
export type PaymentEventHandler = (event: PaymentEvent, tx: Tx) => Promise<void>

/** Answers false when the event had already been received. */
export async function receivePaymentEvent(sql: Sql, handlers: readonly PaymentEventHandler[], event: PaymentEvent): Promise<boolean> {
  return transaction(sql, async (tx) => {
    if (!(await recordWebhookEvent(tx, event))) return false
    for (const handler of handlers) await handler(event, tx)
    return true
  })
}
