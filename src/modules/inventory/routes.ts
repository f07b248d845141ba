import { Type } from 'typebox'
import type { App } from '../../platform/http/server.ts'
import { requireAdmin } from '../../platform/http/auth.ts'
import { isRowId, notFound, PATTERNS } from '../../platform/http/errors.ts'
import type { Sql } from '../../platform/db/index.ts'
import { adjustAvailable, MAX_AVAILABLE, readStockView, setStock } from './admin-stock.ts'

const Params = Type.Object({ variantId: Type.String({ maxLength: 40 }) })
const Count = Type.Integer({ minimum: 0, maximum: MAX_AVAILABLE })
// The count on the shelf, the low-stock threshold (inventory.low when units on hand fall to it), or both.
const SetBody = Type.Object({ available: Type.Optional(Count), lowStockThreshold: Type.Optional(Count) }, { additionalProperties: false, minProperties: 1 })
const AdjustBody = Type.Object(
  {
    delta: Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, not: { const: 0 } }),
    // The ledger's why, read by people: one line, not blank (no terminal escapes in an audit trail).
    reason: Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.line }),
  },
  { additionalProperties: false },
)

export function inventoryRoutes(deps: { sql: Sql }) {
  return async (app: App) => {
    app.addHook('onRequest', async (request) => {
      await requireAdmin(request)
    })
    const security = [{ bearer: [] }]

    app.get('/admin/inventory/:variantId', { schema: { tags: ['admin'], params: Params, security } }, async (request) => {
      if (!isRowId(request.params.variantId)) throw notFound('Variant')
      return readStockView(deps.sql, request.params.variantId)
    })

    app.put('/admin/inventory/:variantId', { schema: { tags: ['admin'], params: Params, body: SetBody, security } }, async (request) => {
      if (!isRowId(request.params.variantId)) throw notFound('Variant')
      const session = await requireAdmin(request)
      return setStock(deps.sql, request.params.variantId, request.body, `admin:${session.customerId}`)
    })

    app.post('/admin/inventory/:variantId/adjust', { schema: { tags: ['admin'], params: Params, body: AdjustBody, security } }, async (request) => {
      if (!isRowId(request.params.variantId)) throw notFound('Variant')
      const session = await requireAdmin(request)
      return adjustAvailable(deps.sql, request.params.variantId, request.body.delta, request.body.reason, `admin:${session.customerId}`)
    })
  }
}
