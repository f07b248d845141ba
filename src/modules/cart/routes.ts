import type { FastifyRequest } from 'fastify'
import type { App } from '../../platform/http/server.ts'
import { requireSession } from '../../platform/http/auth.ts'
import { clientOf } from '../../platform/http/client-address.ts'
import { accountCartId } from './account-cart.ts'
import { addItem, removeItem, setQuantity } from './change-lines.ts'
import { emptyCartView, readCart } from './cart-view.ts'
import { openCart } from './open-cart.ts'
import type { CartDeps } from './ports.ts'
import { AddItemBody, CartParams, CartResponse, LineParams, SetQuantityBody } from './schemas.ts'

const answers = { 200: CartResponse }

export function cartRoutes(deps: CartDeps & { limitCreation: (ip: string) => Promise<void> }) {
  const open = (request: FastifyRequest, id: string) => openCart(deps.store, id, async () => (await request.session())?.customerId ?? null)

  return async (app: App) => {
    app.post('/store/carts', { schema: { tags: ['cart'], response: { 201: CartResponse } }, config: { answers: { 429: 'too_many_requests: too many carts from this address (Retry-After)' } } }, async (request, reply) => {
      await deps.limitCreation(clientOf(request.ip))
      const id = await deps.store.create(null)
      reply.code(201)
      return emptyCartView(id)
    })

    app.get('/store/carts/:id', { schema: { tags: ['cart'], params: CartParams, response: answers } }, async (request) => {
      await open(request, request.params.id)
      return readCart(deps, request.params.id)
    })

    app.post('/store/carts/:id/items', { schema: { tags: ['cart'], params: CartParams, body: AddItemBody, response: answers } }, async (request) => {
      await addItem(deps, request.params.id, open(request, request.params.id), request.body)
      return readCart(deps, request.params.id)
    })

    app.patch('/store/carts/:id/items/:variantId', { schema: { tags: ['cart'], params: LineParams, body: SetQuantityBody, response: answers } }, async (request) => {
      const { id, variantId } = request.params
      const meta = await open(request, id)
      await setQuantity(deps, id, meta, variantId, request.body.quantity)
      return readCart(deps, id)
    })

    app.delete('/store/carts/:id/items/:variantId', { schema: { tags: ['cart'], params: LineParams, response: answers } }, async (request) => {
      const { id, variantId } = request.params
      const meta = await open(request, id)
      await removeItem(deps, id, meta, variantId)
      return readCart(deps, id)
    })

    app.get('/store/customers/me/cart', { schema: { tags: ['cart'], response: answers, security: [{ bearer: [] }] } }, async (request) => {
      const session = await requireSession(request)
      return readCart(deps, await accountCartId(deps.store, session.customerId))
    })
  }
}
