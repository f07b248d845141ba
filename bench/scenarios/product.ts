// Cache-hot product detail reads over many ids: the Black-Friday read path.
import { getAll } from '../lib/http.ts'
import type { LoadScenario } from './types.ts'

const HOT_PRODUCTS = 2000

export const product: LoadScenario = {
  kind: 'load',
  name: 'product',
  description: `cache-hot product detail reads (GET /store/products/{id}) over ${HOT_PRODUCTS.toLocaleString('en-US')} ids`,
  async prepare(ctx) {
    // A fixed pseudo-random spread of ids over the whole catalog.
    const rows = await ctx.sql<{ id: string }[]>`
      select id::text as id from catalog.products where deleted_at is null order by md5(id::text) limit ${HOT_PRODUCTS}`
    if (rows.length === 0) throw new Error('the bench catalog is empty')
    const paths = rows.map((row) => `/store/products/${row.id}`)
    ctx.log(`warming the cache: GET ${paths.length} products once`)
    await getAll(ctx.api, paths)
    return { connections: ctx.connections, duration: ctx.duration, paths }
  },
}
