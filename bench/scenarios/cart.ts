// Add-to-cart: POST /store/carts/{id}/items over many pre-created guest carts, each request
// adding one unit of one in-stock variant (the cart write path: KV checked increment,
// snapshot, TTL renewal, soft stock check, the cart answered back).
import type { LoadScenario } from './types.ts'

const CARTS = 10_000
const CREATE_CONCURRENCY = 16

/** One guest cart; a 503 (the API shedding load while it warms up) is retried after a pause. */
async function createCart(api: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${api}/store/carts`, { method: 'POST' })
    const body = (await response.json()) as { id?: string }
    if (response.status === 201 && body.id) return body.id
    if (response.status !== 503 || attempt === 10) throw new Error(`POST /store/carts answered ${response.status}`)
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
  }
}

/** Creates `count` guest carts through the API, a few at a time; answers their ids. */
async function createCarts(api: string, count: number): Promise<string[]> {
  const ids: string[] = []
  let started = 0
  const worker = async () => {
    while (started < count) {
      started++
      ids.push(await createCart(api))
    }
  }
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker))
  return ids
}

export const cart: LoadScenario = {
  kind: 'load',
  name: 'cart',
  description: `add-to-cart (POST /store/carts/{id}/items, quantity 1) over ${CARTS.toLocaleString('en-US')} guest carts`,
  async prepare(ctx) {
    const [variant] = await ctx.sql<{ id: string }[]>`
      select v.id::text as id from catalog.variants v join catalog.products p on p.id = v.product_id
      where p.deleted_at is null order by v.id limit 1`
    if (!variant) throw new Error('the bench catalog is empty')
    // Ample stock, so the run measures the add path rather than out-of-stock refusals; a cart
    // line tops out at 99, far above the adds one cart gets in a run.
    await ctx.sql`update inventory.stock set available = 1000000000 where variant_id = ${variant.id}`
    ctx.log(`creating ${CARTS.toLocaleString('en-US')} guest carts; every request adds variant ${variant.id}`)
    const ids = await createCarts(ctx.api, CARTS)
    return {
      connections: ctx.connections,
      duration: ctx.duration,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ variantId: variant.id, quantity: 1 }),
      paths: ids.map((id) => `/store/carts/${id}/items`),
    }
  },
}
