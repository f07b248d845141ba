import type { App } from '../../platform/http/server.ts'
import { requireAdmin, requireSession } from '../../platform/http/auth.ts'
import { AppError, notFound, validationFailed } from '../../platform/http/errors.ts'
import { isCountryCode } from '../../platform/countries.ts'
import { clientOf } from '../../platform/http/client-address.ts'
import { checkout, type CheckoutDeps } from './checkout.ts'
import { onceWithKey } from './idempotency.ts'
import { listOrderPage } from './list-orders.ts'
import { cancelOrder, fulfilOrder, refundOrder } from './order-actions.ts'
import { orderView, tokenMatches } from './order-view.ts'
import { findLines, findOrder } from './repo.ts'
import { CartParams, CheckoutBody, IdempotencyHeaders, NoBody, OptionalIdempotencyHeaders, OrderListQuery, OrderParams, OrderReadQuery } from './schemas.ts'

export interface OrderRouteDeps extends CheckoutDeps {
  regionOf(customerId: string): Promise<string>
  /** Counts each checkout's answer (checkout-metrics.ts); absent, nothing is counted. */
  countCheckout?: (outcome: string) => void
}

/** A checkout answer's outcome label: the order's status, or the refusal's code. */
function outcomeOf(status: number, body: unknown): string {
  if (status === 201) return 'paid'
  if (status === 202) return 'pending_payment'
  const code = (body as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : String(status)
}

/**
 * A card past its expiry is a typo or an old card: told at once (400), before an order is
 * placed and cancelled again and the decline counts against the shopper's card-testing limit.
 * A card is good through the last day of its month, wherever the shopper is (12 h past the
 * month's end in UTC). The number itself is left to the processor: not every issuer's
 * numbers pass Luhn.
 */
function expiredCardField(card: { expMonth: number; expYear: number }, now = Date.now()): 'expMonth' | 'expYear' | null {
  const goodUntil = Date.UTC(card.expYear, card.expMonth, 1) + 12 * 3600_000
  if (now <= goodUntil) return null
  return card.expYear < new Date(now).getUTCFullYear() ? 'expYear' : 'expMonth'
}

export function orderRoutes(deps: OrderRouteDeps) {
  return async (app: App) => {
    app.post('/store/carts/:id/checkout', {
      schema: { tags: ['checkout'], params: CartParams, headers: IdempotencyHeaders, body: CheckoutBody },
      config: {
        answers: {
          201: 'The order, paid (Location: /store/orders/{id}; a guest order carries its accessToken)',
          202: 'The order, pending_payment: the charge outcome is not known yet (Retry-After); retry with the same key, or read the order',
          400: 'validation_failed (an empty cart, a bad card, no Idempotency-Key)',
          402: 'payment_declined: nothing charged, stock released',
          409: 'price_changed (with old and new prices), out_of_stock (with the short lines), request_in_progress or checkout_in_progress (Retry-After)',
          422: 'idempotency_conflict: the key was used for another request',
          429: 'too_many_requests: too many declined payments for this cart, or from this shopper across carts (Retry-After)',
          503: 'unavailable: the payment service is down; nothing charged (Retry-After)',
        },
      },
      handler: async (request, reply) => {
        let answer: { status: number; body: unknown }
        try {
          if (!isCountryCode(request.body.shippingAddress.country)) {
            throw validationFailed([{ path: 'shippingAddress.country', message: 'is not an ISO 3166-1 alpha-2 country code' }])
          }
          const expired = expiredCardField(request.body.payment.card)
          if (expired) throw validationFailed([{ path: `payment.card.${expired}`, message: 'the card has expired' }])
          const session = await request.session()
          answer = await checkout(deps, {
            cartId: request.params.id,
            customer: session ? { id: session.customerId, region: await deps.regionOf(session.customerId) } : null,
            idempotencyKey: request.headers['idempotency-key'],
            email: request.body.email,
            shippingAddress: request.body.shippingAddress,
            card: request.body.payment.card,
            // The client's address as the proxy in front reports it (TRUST_PROXY), else the peer's.
            shopper: session ? `customer:${session.customerId}` : `address:${clientOf(request.ip)}`,
          })
        } catch (error) {
          deps.countCheckout?.(error instanceof AppError ? error.code : 'error')
          throw error
        }
        deps.countCheckout?.(outcomeOf(answer.status, answer.body))
        if (answer.status >= 400) reply.type('application/problem+json')
        const orderId = (answer.body as { id?: unknown }).id
        if (answer.status < 300 && typeof orderId === 'string') reply.header('location', `/store/orders/${orderId}`)
        // Payment outcome not known yet: the order is there to be read again shortly.
        if (answer.status === 202) reply.header('retry-after', '5')
        return reply.code(answer.status).send(answer.body)
      },
    })

    app.get('/store/orders/:id', { schema: { tags: ['orders'], params: OrderParams, querystring: OrderReadQuery }, config: { answers: { 200: "The order: status, lines, totals, shipping address (its owner's, or a guest's with accessToken or X-Order-Token)", 404: "not_found: no such order, or another shopper's" } } }, async (request) => {
      const order = await findOrder(deps.sql, request.params.id)
      const session = await request.session()
      const token = request.query.accessToken ?? (request.headers['x-order-token'] as string | undefined)
      const mine = order && ((order.customer_id !== null && session?.customerId === order.customer_id) || tokenMatches(order, token))
      // Someone else's order answers exactly like a missing one: ids reveal nothing.
      if (!order || !mine) throw notFound('Order')
      return orderView(order, await findLines(deps.sql, order.id))
    })

    app.get('/store/customers/me/orders', { schema: { tags: ['orders'], querystring: OrderListQuery } }, async (request) => {
      const session = await requireSession(request)
      return listOrderPage(deps.sql, { ...request.query, customerId: session.customerId })
    })

    await app.register(async (admin: App) => {
      admin.addHook('onRequest', async (request) => {
        await requireAdmin(request)
      })
      const security = [{ bearer: [] }]
      admin.get('/admin/orders', { schema: { tags: ['admin'], querystring: OrderListQuery, security } }, async (request) =>
        listOrderPage(deps.sql, request.query),
      )
      const actor = async (request: Parameters<typeof requireAdmin>[0]) => `admin:${(await requireAdmin(request)).customerId}`
      const actions = { fulfil: fulfilOrder, cancel: cancelOrder, refund: refundOrder }
      for (const [name, act] of Object.entries(actions)) {
        admin.post(
          `/admin/orders/:id/${name}`,
          { schema: { tags: ['admin'], params: OrderParams, headers: OptionalIdempotencyHeaders, body: NoBody, security } },
          async (request) => {
            const who = await actor(request)
            return onceWithKey(deps.sql, deps.claimer, request.headers['idempotency-key'], { action: name, order: request.params.id }, () => act(deps, request.params.id, who))
          },
        )
      }
    })
  }
}
