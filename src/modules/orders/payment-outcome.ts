import type { Sql, Tx } from '../../platform/db/index.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import type { ChargeOutcome, InventoryPort } from './ports.ts'
import { lockOrder, setPaymentId } from './repo.ts'
import { transition } from './state-machine.ts'

type Known = { status: 'captured'; paymentId: string } | { status: 'declined' } | { status: 'unknown' } | ChargeOutcome

/**
 * Records what the gateway said about an order's charge: captured -> paid (held units
 * sold); declined -> cancelled (held units released). Unknown changes nothing. Safe to
 * call twice (checkout and reconciliation may both learn the answer): only a
 * pending_payment order moves.
 */
export async function applyChargeOutcome(
  deps: { sql: Sql; log: Logger; inventory: InventoryPort },
  orderId: string,
  outcome: Known,
  actor: string,
): Promise<void> {
  if (outcome.status === 'unknown') return
  await deps.sql.begin((tx) => applyChargeOutcomeIn(tx, deps, orderId, outcome, actor))
}

/** The same, inside the caller's transaction (a payment webhook is recorded in one). */
export async function applyChargeOutcomeIn(
  tx: Tx,
  deps: { inventory: InventoryPort },
  orderId: string,
  outcome: Known,
  actor: string,
): Promise<void> {
  if (outcome.status === 'unknown') return
  // Row lock: checkout, reconciliation and the webhook learning the answer together apply it once.
  const order = await lockOrder(tx, orderId)
  if (!order || order.status !== 'pending_payment') return
  const { lines } = order
  if (outcome.status === 'captured') {
    await setPaymentId(tx, orderId, outcome.paymentId)
    await deps.inventory.sell(tx, orderId, lines, actor)
    await transition(tx, orderId, 'pending_payment', 'paid', actor, 'payment captured')
  } else {
    await deps.inventory.release(tx, orderId, lines, actor)
    await transition(tx, orderId, 'pending_payment', 'cancelled', actor, 'payment declined')
  }
}
