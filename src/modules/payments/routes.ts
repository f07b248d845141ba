// POST /webhooks/payments: the card processor tells us what happened to a payment. Only a
// delivery signed with our shared secret, and recent, is believed.
import { AppError, validationFailed } from '../../platform/http/errors.ts'
import type { App } from '../../platform/http/server.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import type { PaymentEvent } from './gateway.ts'
import { SIGNATURE_HEADER, verifySignature } from './signature.ts'
import { parseWireEvent, toPaymentEvent } from './wire.ts'

export interface PaymentRoutesDeps {
  /** The secret the processor signs with. */
  secret: () => string
  /** Records the event and runs the subscribers; false when it was a redelivery. */
  receive: (event: PaymentEvent) => Promise<boolean>
  log: Logger
}

const WEBHOOK_BODY_LIMIT = 64 * 1024
const SIGNATURE_PROBLEMS = {
  missing: `The ${SIGNATURE_HEADER} header is missing`,
  malformed: `The ${SIGNATURE_HEADER} header is not t=<seconds>,v1=<hex>`,
  expired: 'The signature timestamp is more than 5 minutes away from now',
  mismatch: 'The signature does not match the body',
} as const

export function paymentRoutes(deps: PaymentRoutesDeps) {
  return async (app: App) => {
    // The signature covers the exact bytes sent, so in this scope JSON stays text until verified.
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body))

    app.post(
      '/webhooks/payments',
      {
        bodyLimit: WEBHOOK_BODY_LIMIT,
        schema: {
          tags: ['payments'],
          summary: 'Payment events from the card processor (HMAC-SHA256 signed, Shop-Signature: t=<ts>,v1=<hex>)',
        },
      },
      async (request) => {
        const raw = typeof request.body === 'string' ? request.body : ''
        const header = request.headers[SIGNATURE_HEADER]
        const check = verifySignature(deps.secret(), typeof header === 'string' ? header : undefined, raw)
        if (!check.ok) {
          request.log.warn({ reason: check.reason }, 'payment webhook refused: bad signature')
          const status = check.reason === 'missing' || check.reason === 'malformed' ? 400 : 401
          throw new AppError('invalid_signature', SIGNATURE_PROBLEMS[check.reason], {}, status)
        }
        let json: unknown
        try {
          json = JSON.parse(raw)
        } catch {
          throw validationFailed([{ path: 'body', message: 'is not JSON' }])
        }
        const wire = parseWireEvent(json)
        if (!wire) throw validationFailed([{ path: 'body', message: 'is not a payment event' }])
        const received = await deps.receive(toPaymentEvent(wire))
        return { received: true, duplicate: !received }
      },
    )
  }
}
