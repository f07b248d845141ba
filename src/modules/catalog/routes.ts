import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { App } from '../../platform/http/server.ts'
import { requireAdmin } from '../../platform/http/auth.ts'
import { AppError, isRowId, notFound } from '../../platform/http/errors.ts'
import type { CachedBody } from '../../platform/cache/tiered-cache.ts'
import { CreateProduct, ListQuery, ProductParams, ProductView, UpdateProduct } from './schemas.ts'
import type { TieredCache } from '../../platform/cache/tiered-cache.ts'
import type { CreateProductInput, ProductViewT, UpdateProductInput } from './schemas.ts'

/** What the routes need from the catalog module. */
export interface CatalogForRoutes {
  productCache: TieredCache
  categoryCache: TieredCache
  productForAdmin(id: string): Promise<ProductViewT>
  listProductsPage(query: { category?: string; limit?: number; cursor?: string }): Promise<CachedBody>
  createProduct(input: CreateProductInput): Promise<string>
  updateProduct(id: string, input: UpdateProductInput): Promise<void>
  deleteProduct(id: string): Promise<void>
}

// Short browser/CDN freshness; the CDN may serve a copy while it revalidates.
const CACHE_CONTROL = 'public, max-age=30, stale-while-revalidate=300'

function sendCached(request: FastifyRequest, reply: FastifyReply, cached: CachedBody, what: string) {
  if (cached.body === null) throw notFound(what)
  reply.header('etag', cached.etag).header('cache-control', CACHE_CONTROL).header('x-cache', cached.source)
  if (noneMatch(request.headers['if-none-match'], cached.etag)) return reply.code(304).send()
  return reply.type('application/json; charset=utf-8').send(cached.body)
}

/**
 * If-None-Match by weak comparison (RFC 9110 13.1.2): a list of tags, `W/` prefixes (a
 * proxy that compresses weakens the tag) and `*` all count.
 */
function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header === etag) return true // the common case, without parsing
  const opaque = etag.replace(/^W\//, '')
  return header.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed.replace(/^W\//, '') === opaque
  })
}

export function catalogRoutes(catalog: CatalogForRoutes) {
  return async (app: App) => {
    app.get('/store/products/:id', {
      config: { ownDeadline: true },
      schema: { tags: ['catalog'], params: ProductParams, response: { 200: ProductView } },
      handler: async (request, reply) => {
        const { id } = request.params
        if (!isRowId(id)) throw notFound('Product')
        // The hot path: a fresh in-process copy answers without awaiting anything else.
        const cached = catalog.productCache.peek(id) ?? (await catalog.productCache.get(id))
        return sendCached(request, reply, cached, 'Product')
      },
    })

    app.get('/store/products', { schema: { tags: ['catalog'], querystring: ListQuery } }, async (request, reply) =>
      sendCached(request, reply, await catalog.listProductsPage(request.query), 'Product list'),
    )

    app.get('/store/categories', { schema: { tags: ['catalog'] } }, async (request, reply) =>
      sendCached(request, reply, await catalog.categoryCache.get('tree'), 'Category tree'),
    )

    await app.register(async (admin: App) => {
      admin.addHook('onRequest', async (request) => {
        await requireAdmin(request)
      })

      admin.post('/admin/products', { schema: { tags: ['admin'], body: CreateProduct, security: [{ bearer: [] }] }, config: { answers: { 201: 'The product, as admins see it', 400: 'validation_failed, naming the fields', 409: 'conflict: a slug or SKU in use' } } }, async (request, reply) => {
        const id = await catalog.createProduct(request.body)
        reply.code(201)
        return catalog.productForAdmin(id)
      })

      admin.patch('/admin/products/:id', { schema: { tags: ['admin'], params: ProductParams, body: UpdateProduct, security: [{ bearer: [] }] } }, async (request) => {
        const { id } = request.params
        if (!isRowId(id)) throw notFound('Product')
        await catalog.updateProduct(id, request.body)
        return catalog.productForAdmin(id)
      })

      admin.delete('/admin/products/:id', { schema: { tags: ['admin'], params: ProductParams, security: [{ bearer: [] }] }, config: { answers: { 204: 'Deleted', 404: 'No such product' } } }, async (request, reply) => {
        const { id } = request.params
        if (!isRowId(id)) throw notFound('Product')
        await catalog.deleteProduct(id)
        reply.code(204)
      })

      admin.get('/admin/products/:id', { schema: { tags: ['admin'], params: Type.Object({ id: Type.String() }), security: [{ bearer: [] }] } }, async (request) => {
        if (!isRowId(request.params.id)) throw notFound('Product')
        const product = await catalog.productForAdmin(request.params.id)
        if (!product) throw new AppError('not_found', 'Product was not found')
        return product
      })
    })
  }
}
