// Generates the synthetic catalog in column-shaped chunks. Product number i is a pure
// function of (seed, i): the same seed gives the same products whatever the chunk size.
import { hash32, Random } from './random.ts'
import {
  APPAREL_SIZES, BED_SIZES, CAPACITIES, CATALOG, CLOSERS, COLORS, LINES, ADJECTIVES, OPENERS, PACKS, SHOE_SIZES,
  VOLUMES, type LeafCategory, type TopCategory,
} from './words.ts'

export interface ProductColumns {
  id: number[]
  slug: string[]
  name: string[]
  description: string[]
  brand: string[]
  category: string[]
  /** JSON array text, e.g. '["https://picsum.photos/seed/x/600/600"]'. */
  images: string[]
  /** RFC 3339 timestamps. */
  createdAt: string[]
}

export interface VariantColumns {
  id: number[]
  productId: number[]
  sku: string[]
  title: string[]
  /** Integer minor units (USD cents). */
  price: number[]
  position: number[]
  /** Units in stock (inventory.stock.available). */
  available: number[]
}

export interface Chunk {
  /** Product number of the first product in this chunk (0-based within the run). */
  start: number
  count: number
  products: ProductColumns
  variants: VariantColumns
}

export interface ChunkPlan {
  seed: number
  start: number
  count: number
  /** Id given to product number 0 of the run. */
  productIdBase: number
  /** Id given to the first variant of this chunk. */
  variantIdStart: number
  /** The instant "now" for created_at (ms since epoch). */
  now: number
}

const TWO_YEARS_MS = 2 * 365 * 24 * 3600 * 1000
const CENT_ENDINGS = [99, 99, 99, 99, 95, 49, 0] as const
const MIN_PRICE = 499
const MAX_PRICE = 49_999
const COLOR_STEPS = [1, 5, 7, 11, 13] as const // coprime with COLORS.length (18): distinct colors

/** Variants of product number `index`: 1-4 (mean 2.5), computable without generating the product. */
export function variantCountOf(seed: number, index: number): number {
  const r = hash32(seed ^ 0x5bd1e995, index) % 10
  return r < 2 ? 1 : r < 5 ? 2 : r < 8 ? 3 : 4
}

export function skuOf(seed: number, index: number, variant: number): string {
  return `SKU-${seed}-${index}-${variant}`
}

export function slugify(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => vars[key] ?? '')
}

function emptyChunk(start: number, count: number): Chunk {
  return {
    start,
    count,
    products: { id: [], slug: [], name: [], description: [], brand: [], category: [], images: [], createdAt: [] },
    variants: { id: [], productId: [], sku: [], title: [], price: [], position: [], available: [] },
  }
}

/** Titles for `k` variants of one product, e.g. ["Size S / Navy", "Size M / Navy"]. */
function variantTitles(rng: Random, leaf: LeafCategory, k: number): { titles: string[]; priceSteps: boolean } {
  const color = rng.pick(COLORS)
  const run = (values: readonly string[], suffix: string): string[] => {
    const first = rng.int(0, values.length - k)
    return values.slice(first, first + k).map((value) => value + suffix)
  }
  switch (leaf.options) {
    case 'apparel':
      return { titles: run(APPAREL_SIZES.map((s) => `Size ${s}`), ` / ${color}`), priceSteps: false }
    case 'shoe':
      return { titles: run(SHOE_SIZES, ` / ${color}`), priceSteps: false }
    case 'capacity':
      return { titles: run(CAPACITIES, ` / ${color}`), priceSteps: true }
    case 'bed':
      return { titles: run(BED_SIZES, ` / ${color}`), priceSteps: true }
    case 'volume':
      return { titles: run(VOLUMES, ''), priceSteps: true }
    case 'pack':
      return { titles: run(PACKS, ''), priceSteps: true }
    case 'color': {
      const offset = rng.int(0, COLORS.length - 1)
      const step = rng.pick(COLOR_STEPS)
      return { titles: Array.from({ length: k }, (_, v) => COLORS[(offset + v * step) % COLORS.length]), priceSteps: false }
    }
  }
}

function description(rng: Random, top: TopCategory, leaf: LeafCategory, name: string, brand: string, noun: string, material: string): string {
  const vars = {
    name,
    brand,
    noun: noun.toLowerCase(),
    material: material || rng.pick(leaf.materials),
    years: String(rng.int(1, 5)),
    rating: (rng.int(40, 49) / 10).toFixed(1),
    reviews: String(rng.int(1, 40) * 50),
  }
  const sentences = [fill(rng.pick(OPENERS), vars), rng.pick(top.features)]
  if (rng.chance(0.6)) sentences.push(fill(rng.pick(CLOSERS), vars))
  return sentences.join(' ')
}

export function generateChunk(plan: ChunkPlan): Chunk {
  const chunk = emptyChunk(plan.start, plan.count)
  const { products: p, variants: v } = chunk
  const rng = new Random()
  let variantId = plan.variantIdStart
  for (let index = plan.start; index < plan.start + plan.count; index++) {
    rng.reset(hash32(plan.seed, index))
    const id = plan.productIdBase + index
    const top = rng.pick(CATALOG)
    const leaf = rng.pick(top.leaves)
    const brand = rng.pick(top.brands)
    const noun = rng.pick(leaf.nouns)
    const material = rng.chance(0.5) ? rng.pick(leaf.materials) : ''
    const name = `${rng.pick(LINES)} ${rng.pick(ADJECTIVES)} ${material ? material + ' ' : ''}${noun}`
    const slug = `${slugify(name)}-${id}`
    const imageCount = rng.int(1, 3)
    const images: string[] = []
    for (let n = 1; n <= imageCount; n++) {
      images.push(`"https://picsum.photos/seed/${n === 1 ? slug : `${slug}-${n}`}/600/600"`)
    }
    p.id.push(id)
    p.slug.push(slug)
    p.name.push(name)
    p.description.push(description(rng, top, leaf, name, brand, noun, material))
    p.brand.push(brand)
    p.category.push(leaf.path)
    p.images.push(`[${images.join(',')}]`)
    p.createdAt.push(new Date(plan.now - Math.floor(rng.next() * TWO_YEARS_MS)).toISOString())

    const k = variantCountOf(plan.seed, index)
    const dollars = rng.int(leaf.price[0], leaf.price[1])
    const cents = rng.pick(CENT_ENDINGS)
    const step = Math.max(1, Math.round(dollars * rng.int(15, 40) / 100))
    const { titles, priceSteps } = variantTitles(rng, leaf, k)
    for (let position = 0; position < k; position++) {
      const amount = (dollars + (priceSteps ? position * step : 0)) * 100 + cents
      v.id.push(variantId++)
      v.productId.push(id)
      v.sku.push(skuOf(plan.seed, index, position))
      v.title.push(titles[position])
      v.price.push(Math.min(MAX_PRICE, Math.max(MIN_PRICE, amount)))
      v.position.push(position)
      v.available.push(rng.chance(0.05) ? 0 : rng.int(1, 500))
    }
  }
  return chunk
}
