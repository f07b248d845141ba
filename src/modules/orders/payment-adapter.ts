import type { PaymentGateway } from '../payments/index.ts'
import type { PaymentPort } from './ports.ts'

/**
 * Orders' view of the payment gateway. Checkout charges in one step (authorize with
 * capture). Anything short of a clear answer is `unknown`: the order waits for
 * reconciliation rather than risk a second charge or a lost one.
 */
export function paymentPortFrom(gateway: PaymentGateway, pausedForMs: () => number = () => 0): PaymentPort {
  return {
    chargesPausedForMs: pausedForMs,

    async charge(input, idempotencyKey) {
      const result = await gateway.authorize({ orderId: input.orderId, amount: input.amount, card: input.card, capture: true }, idempotencyKey)
      if (result.ok) {
        return result.payment.status === 'captured'
          ? { status: 'captured', paymentId: result.payment.id }
          : { status: 'unknown', reason: `payment is ${result.payment.status}` }
      }
      if (result.code === 'payment_declined') {
        return { status: 'declined', declineCode: result.declineCode, message: `The card was declined (${result.declineCode})` }
      }
      if (result.code === 'gateway_unavailable') return { status: 'not_sent', retryAfterMs: result.retryAfterMs }
      if (result.code === 'invalid_request') {
        // The processor refused the charge as asked (an amount outside its limits, say) and
        // nothing changed: as final as a decline. Left unknown, the order would hold its
        // units until reconciliation gave up on it.
        return { status: 'declined', declineCode: 'invalid_request', message: `The payment processor refused the charge: ${result.detail}` }
      }
      return { status: 'unknown', reason: `${result.code}: ${result.detail}` }
    },

    async lookup(idempotencyKey) {
      const result = await gateway.status({ idempotencyKey })
      if (result.ok) {
        // With its amount: a capture settles an order only for its total (payment-outcome.ts),
        // whoever learns of it (reconciliation, a retry, a cancel), as for a webhook's report.
        const { id: paymentId, amount } = result.payment
        if (result.payment.status === 'captured') return { status: 'captured', paymentId, amount }
        // Captured, then refunded (in the processor's dashboard, say) before the order learned of it.
        if (result.payment.status === 'refunded') return { status: 'captured', paymentId, amount, refunded: true }
        if (result.payment.status === 'declined') return { status: 'declined' }
        return { status: 'unknown' }
      }
      return result.code === 'not_found' ? { status: 'not_found' } : { status: 'unknown' }
    },

    async refund(paymentId, idempotencyKey) {
      const result = await gateway.refund(paymentId, undefined, idempotencyKey)
      if (result.ok) return { ok: true }
      const reason = `${result.code}: ${result.detail}`
      if (result.code === 'unknown' || result.code === 'gateway_unavailable') return { ok: false, reason, final: false }
      // Refused: nothing left to refund is the refund done (the payment refunded in full
      // already), anything else a refusal for good (no such payment, one not captured),
      // once the processor says where the payment stands.
      const now = await gateway.status({ paymentId })
      if (now.ok && now.payment.status === 'refunded') return { ok: true }
      return { ok: false, reason, final: now.ok || now.code === 'not_found' }
    },
  }
}
