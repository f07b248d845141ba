// Category browsing: GET /store/products?category=...&limit=20, the first pages of every
// category (and of the whole catalog), as shoppers page through a storefront's aisles.
import type { LoadScenario } from './types.ts'

const PAGES_PER_CATEGORY = 5
const LIMIT = 20

/** The path of each of the first `pages` pages of one listing, following the cursors. */
async function pagesOf(api: string, category: string | null): Promise<string[]> {
  const paths: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < PAGES_PER_CATEGORY; page++) {
    const query = new URLSearchParams({ limit: String(LIMIT) })
    if (category) query.set('category', category)
    if (cursor) query.set('cursor', cursor)
    const path = `/store/products?${query}`
    const response = await fetch(api + path)
    if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`)
    const body = (await response.json()) as { items: unknown[]; nextCursor: string | null }
    if (body.items.length === 0) break
    paths.push(path)
    cursor = body.nextCursor
    if (!cursor) break
  }
  return paths
}

export const list: LoadScenario = {
  kind: 'load',
  name: 'list',
  description: `category pages (GET /store/products?category=...&limit=${LIMIT}), the first ${PAGES_PER_CATEGORY} pages of every category`,
  async prepare(ctx) {
    const categories = await ctx.sql<{ path: string }[]>`select path from catalog.categories order by path`
    const paths = (await Promise.all([null, ...categories.map((c) => c.path)].map((category) => pagesOf(ctx.api, category)))).flat()
    if (paths.length === 0) throw new Error('the bench catalog is empty')
    ctx.log(`${paths.length} pages over ${categories.length} categories (each was read once while finding the cursors)`)
    return { connections: ctx.connections, duration: ctx.duration, paths }
  },
}
