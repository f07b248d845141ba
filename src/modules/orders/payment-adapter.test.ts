import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Payment, PaymentGateway, RefundResult, StatusResult } from '../payments/index.ts'
import { paymentPortFrom } from './payment-adapter.ts'

const payment = (status: Payment['status']): Payment =>
  ({ id: 'pay_1', status, amount: { amount: 1000, currency: 'USD' }, refunded: { amount: status === 'refunded' ? 1000 : 0, currency: 'USD' } }) as Payment

/** A gateway answering the refund and the status lookup as given. */
const gatewayAnswering = (refund: RefundResult, status: StatusResult) => ({ refund: async () => refund, status: async () => status }) as unknown as PaymentGateway

test('a refund the processor refuses because the payment is refunded in full already (its dashboard, a lost answer) is done', async () => {
  const port = paymentPortFrom(gatewayAnswering({ ok: false, code: 'invalid_state', detail: 'Payment pay_1 is refunded' }, { ok: true, payment: payment('refunded') }))
  assert.deepEqual(await port.refund('pay_1', 'refund:o1'), { ok: true })
})

test('a refund refused for another reason is final; one not answered is not', async () => {
  const refused = paymentPortFrom(gatewayAnswering({ ok: false, code: 'invalid_state', detail: 'Payment pay_1 is declined' }, { ok: true, payment: payment('declined') }))
  assert.deepEqual(await refused.refund('pay_1', 'refund:o1'), { ok: false, reason: 'invalid_state: Payment pay_1 is declined', final: true })
  const silent = paymentPortFrom(gatewayAnswering({ ok: false, code: 'unknown', detail: 'timed out' }, { ok: true, payment: payment('captured') }))
  assert.deepEqual(await silent.refund('pay_1', 'refund:o1'), { ok: false, reason: 'unknown: timed out', final: false })
  const unknownPayment = paymentPortFrom(gatewayAnswering({ ok: false, code: 'not_found', detail: 'No payment pay_1' }, { ok: false, code: 'not_found', detail: 'No payment pay_1' }))
  assert.equal(((await unknownPayment.refund('pay_1', 'refund:o1')) as { final: boolean }).final, true, 'no such payment')
  // Refused, and then the processor cannot be asked why: not known to be final.
  const unsure = paymentPortFrom(gatewayAnswering({ ok: false, code: 'invalid_state', detail: 'x' }, { ok: false, code: 'unknown', detail: 'timed out' }))
  assert.equal(((await unsure.refund('pay_1', 'refund:o1')) as { final: boolean }).final, false)
})

test("a lookup answers the captured payment's amount, so whoever settles from it checks the order's total", async () => {
  const captured = { ...payment('captured'), amount: { amount: 999, currency: 'USD' } }
  const port = paymentPortFrom({ status: async () => ({ ok: true, payment: captured }) } as unknown as PaymentGateway)
  assert.deepEqual(await port.lookup('charge:o1'), { status: 'captured', paymentId: 'pay_1', amount: { amount: 999, currency: 'USD' } })
})
