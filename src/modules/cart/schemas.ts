import { Type } from 'typebox'
import { MAX_QUANTITY } from './store.ts'

// Ids are opaque to clients; an id the API never gave out is simply not found.
const OpaqueId = Type.String({ minLength: 1, maxLength: 100 })
const VariantId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })

export const CartParams = Type.Object({ id: OpaqueId })
export const LineParams = Type.Object({ id: OpaqueId, variantId: OpaqueId })

export const AddItemBody = Type.Object(
  { variantId: VariantId, quantity: Type.Integer({ minimum: 1, maximum: MAX_QUANTITY }) },
  { additionalProperties: false },
)

export const SetQuantityBody = Type.Object(
  { quantity: Type.Integer({ minimum: 0, maximum: MAX_QUANTITY, description: '0 removes the line' }) },
  { additionalProperties: false },
)

const Money = Type.Object({ amount: Type.Integer(), currency: Type.String() })

export const CartResponse = Type.Object({
  id: Type.String(),
  items: Type.Array(
    Type.Object({
      variantId: Type.String(),
      productId: Type.String(),
      name: Type.String(),
      title: Type.String(),
      unitPrice: Money,
      quantity: Type.Integer(),
      lineTotal: Money,
    }),
  ),
  subtotal: Money,
})
