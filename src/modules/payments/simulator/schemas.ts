// JSON schemas of the simulator's requests (Fastify validates them; a miss is a 400 invalid_request).

const CARD = {
  type: 'object',
  required: ['number', 'expMonth', 'expYear', 'cvc'],
  additionalProperties: false,
  properties: {
    number: { type: 'string', minLength: 1, maxLength: 30 },
    expMonth: { type: 'integer', minimum: 1, maximum: 12 },
    expYear: { type: 'integer', minimum: 0, maximum: 9999 },
    cvc: { type: 'string', maxLength: 8 },
  },
}
export const CREATE_PAYMENT = {
  type: 'object',
  required: ['amount', 'currency', 'orderId', 'card'],
  additionalProperties: false,
  properties: {
    amount: { type: 'integer', minimum: 1, maximum: 99_999_999 },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    orderId: { type: 'string', minLength: 1, maxLength: 128 },
    capture: { type: 'boolean' },
    card: CARD,
  },
}
export const REFUND = {
  type: 'object',
  additionalProperties: false,
  properties: { amount: { type: 'integer', minimum: 1, maximum: 99_999_999 } },
}
export const SETTINGS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    latencyMs: { type: 'integer', minimum: 0, maximum: 60_000 },
    failureRate: { type: 'number', minimum: 0, maximum: 1 },
    failAfterProcessing: { type: 'boolean' },
    slowMs: { type: 'integer', minimum: 0, maximum: 600_000 },
  },
}
export const PAYMENT_PARAMS = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } }
