import { Type } from 'typebox'
import { PATTERNS } from '../../platform/http/errors.ts'
import { TRANSITIONS, type OrderStatus } from './state-machine.ts'

export const CartParams = Type.Object({ id: Type.String({ maxLength: 64 }) })
export const OrderParams = Type.Object({ id: Type.String({ maxLength: 64 }) })

const IdempotencyKey = Type.String({ minLength: 8, maxLength: 100, pattern: '^[A-Za-z0-9_:.-]+$' })

export const IdempotencyHeaders = Type.Object({ 'idempotency-key': IdempotencyKey })

/** Merchant actions: a key is optional (they are safe to repeat), and makes a retry answer the first success. */
export const OptionalIdempotencyHeaders = Type.Object({ 'idempotency-key': Type.Optional(IdempotencyKey) })

export const CheckoutBody = Type.Object(
  {
    email: Type.String({ maxLength: 254, pattern: PATTERNS.email }),
    shippingAddress: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.line }),
        line1: Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.line }),
        city: Type.String({ minLength: 1, maxLength: 100, pattern: PATTERNS.line }),
        postalCode: Type.String({ minLength: 1, maxLength: 20, pattern: PATTERNS.line }),
        // Also an assigned code (checked in the route: "XX" is two capitals, not a country).
        country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2, e.g. DE' }),
      },
      { additionalProperties: false },
    ),
    payment: Type.Object(
      {
        card: Type.Object(
          {
            number: Type.String({ pattern: '^[0-9]{12,19}$' }),
            expMonth: Type.Integer({ minimum: 1, maximum: 12 }),
            expYear: Type.Integer({ minimum: 2000, maximum: 2100 }),
            cvc: Type.String({ pattern: '^[0-9]{3,4}$' }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

/** An `enum` keyword (not a union of literals): a bad value gets one "must be equal to one of the allowed values", not five "must be equal to constant". */
export const OrderStatusEnum = Type.Enum(Object.keys(TRANSITIONS) as OrderStatus[])

export const OrderListQuery = Type.Object(
  {
    status: Type.Optional(OrderStatusEnum),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
)

export const OrderReadQuery = Type.Object({ accessToken: Type.Optional(Type.String({ maxLength: 100 })) }, { additionalProperties: false })

/**
 * The merchant's order actions take no options: a body asking for more (a partial refund
 * amount, say) is refused, not silently ignored while the whole order is refunded.
 */
export const NoBody = Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })])
