// Generates the synthetic catalog chunk by chunk. Product number i is a pure
// function of (seed, i): the same seed gives the same products whatever the chunk size.
import { hash32, Random } from './random.ts'
import {
  ADJECTIVES, APPAREL_SIZES, BED_SIZES, CAPACITIES, CATALOG, CLOSERS, COLORS, LINES, OPENERS, PACKS, SHOE_SIZES,
  VOLUMES, type DescriptionVars, type LeafCategory, type TopCategory,
} from './words.ts'

/** One generated product, as the tables store it. */
export interface SeedProduct {
  id: number
  slug: string
  name: string
  description: string
  brand: string
  category: string
  /** JSON array text, e.g. '["https://picsum.photos/seed/x/600/600"]'. */
  images: string
  /** RFC 3339 timestamp; also the product's updated_at. */
  createdAt: string
}

export interface SeedVariant {
  id: number
  productId: number
  sku: string
  title: string
  /** Integer minor units (USD cents). */
  price: number
  position: number
  /** Units in stock (inventory.stock.available). */
  available: number
}

/** Receives rows as they are generated (a writer formats them straight away: little garbage). */
export interface CatalogSink {
  product(product: SeedProduct): void
  variant(variant: SeedVariant): void
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

// Names are made of a few hundred distinct words: slugify each word once.
const slugCache = new Map<string, string>()
function slugOfWord(word: string): string {
  let slug = slugCache.get(word)
  if (slug === undefined) slugCache.set(word, (slug = slugify(word)))
  return slug
}

const SIZE_TITLES = APPAREL_SIZES.map((size) => `Size ${size}`)

/** `k` consecutive values ("Size S", "Size M") with an optional suffix (" / Navy"). */
function consecutive(rng: Random, values: readonly string[], k: number, suffix: string): string[] {
  const first = rng.int(0, values.length - k)
  const titles: string[] = new Array(k)
  for (let v = 0; v < k; v++) titles[v] = values[first + v] + suffix
  return titles
}

/** Titles for `k` variants of one product, e.g. ["Size S / Navy", "Size M / Navy"] */
function variantTitles(rng: Random, leaf: LeafCategory, k: number): string[] {
  const color = rng.pick(COLORS)
  switch (leaf.options) {
    case 'apparel':
      return consecutive(rng, SIZE_TITLES, k, ` / ${color}`)
    case 'shoe':
      return consecutive(rng, SHOE_SIZES, k, ` / ${color}`)
    case 'capacity':
      return consecutive(rng, CAPACITIES, k, ` / ${color}`)
    case 'bed':
      return consecutive(rng, BED_SIZES, k, ` / ${color}`)
    case 'volume':
      return consecutive(rng, VOLUMES, k, '')
    case 'pack':
      return consecutive(rng, PACKS, k, '')
    case 'color': {
      const offset = rng.int(0, COLORS.length - 1)
      const step = rng.pick(COLOR_STEPS)
      const titles: string[] = new Array(k)
      for (let v = 0; v < k; v++) titles[v] = COLORS[(offset + v * step) % COLORS.length]
      return titles
    }
  }
}

/** Options whose variants cost more the further down the list (bigger, more, larger). */
function pricedBySize(leaf: LeafCategory): boolean {
  return leaf.options === 'capacity' || leaf.options === 'bed' || leaf.options === 'volume' || leaf.options === 'pack'
}

function description(rng: Random, top: TopCategory, leaf: LeafCategory, name: string, brand: string, noun: string, material: string): string {
  const vars: DescriptionVars = {
    name,
    brand,
    noun: noun.toLowerCase(),
    material: material || rng.pick(leaf.materials),
    years: rng.int(1, 5),
    rating: (rng.int(40, 49) / 10).toFixed(1),
    reviews: rng.int(1, 40) * 50,
  }
  const text = rng.pick(OPENERS)(vars) + ' ' + rng.pick(top.features)
  return rng.chance(0.6) ? text + ' ' + rng.pick(CLOSERS)(vars) : text
}

/** Generates products [plan.start, plan.start + plan.count) into `sink`; answers the number of variants. */
export function generateChunk(plan: ChunkPlan, sink: CatalogSink): number {
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
    const line = rng.pick(LINES)
    const adjective = rng.pick(ADJECTIVES)
    const name = material ? `${line} ${adjective} ${material} ${noun}` : `${line} ${adjective} ${noun}`
    const slug = material
      ? `${slugOfWord(line)}-${slugOfWord(adjective)}-${slugOfWord(material)}-${slugOfWord(noun)}-${id}`
      : `${slugOfWord(line)}-${slugOfWord(adjective)}-${slugOfWord(noun)}-${id}`
    const imageCount = rng.int(1, 3)
    let images = `["https://picsum.photos/seed/${slug}/600/600"`
    for (let n = 2; n <= imageCount; n++) images += `,"https://picsum.photos/seed/${slug}-${n}/600/600"`
    sink.product({
      id,
      slug,
      name,
      description: description(rng, top, leaf, name, brand, noun, material),
      brand,
      category: leaf.path,
      images: images + ']',
      createdAt: new Date(plan.now - Math.floor(rng.next() * TWO_YEARS_MS)).toISOString(),
    })

    const k = variantCountOf(plan.seed, index)
    const dollars = rng.int(leaf.price[0], leaf.price[1])
    const cents = rng.pick(CENT_ENDINGS)
    const step = Math.max(1, Math.round(dollars * rng.int(15, 40) / 100))
    const priceSteps = pricedBySize(leaf)
    const titles = variantTitles(rng, leaf, k)
    for (let position = 0; position < k; position++) {
      const amount = (dollars + (priceSteps ? position * step : 0)) * 100 + cents
      sink.variant({
        id: variantId++,
        productId: id,
        sku: skuOf(plan.seed, index, position),
        title: titles[position],
        price: Math.min(MAX_PRICE, Math.max(MIN_PRICE, amount)),
        position,
        available: rng.chance(0.05) ? 0 : rng.int(1, 500),
      })
    }
  }
  return variantId - plan.variantIdStart
}

// The seeded stock is the ledger's first entry for each variant, as an admin's set would be:
// the ledger then adds up to the stock from the first row on.
export const SEED_ACTOR = 'seed'
export const OPENING_STOCK = 'opening stock'
