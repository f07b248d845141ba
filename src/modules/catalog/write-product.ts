import { randomBytes } from 'node:crypto'
import type { Db, Sql } from '../../platform/db/index.ts'
import { AppError, notFound, validationFailed } from '../../platform/http/errors.ts'
import { productUpdated } from './events.ts'
import * as repo from './repo.ts'
import type { CreateProductInput, NewVariantInput, UpdateProductInput, VariantChangeInput } from './schemas.ts'

/** What writing a product needs from inventory: a new variant's stock, in the same transaction. */
export interface StockWriter {
  setInitialStock(tx: Db, variantId: string, available: number): Promise<void>
}

export interface WriteDeps {
  sql: Sql
  stock: StockWriter
  /** Runs after commit: drops cached copies everywhere. */
  afterChange(productId: string, categoriesChanged: boolean): Promise<void>
}

/** Latin letters NFKD does not split into a base letter and marks ("straße" lost its ß: "stra-e"). */
const SPELLED_OUT: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i', ŋ: 'ng' }

function slugify(text: string): string {
  // NFKD splits "è" into "e" and a combining accent; the accents go (\p{M}), the letters stay.
  // Cut to length before the hyphens are trimmed: cut after, a slug could end in one, which
  // no slug a client may send does (and its suffixed twin held "--").
  const ascii = text.toLowerCase().replace(/[ßæœøłđðþıŋ]/g, (letter) => SPELLED_OUT[letter]).normalize('NFKD').replace(/\p{M}/gu, '')
  return ascii.replace(/[^a-z0-9]+/g, '-').slice(0, 80).replace(/^-+|-+$/g, '') || 'product'
}

/** The slug asked for, or one made from the name; `attempt` > 0: the made one lost a race, take a suffixed one. */
async function freeSlug(tx: Db, wanted: string | undefined, name: string, attempt = 0): Promise<string> {
  if (wanted) {
    if (await repo.slugTaken(tx, wanted)) throw slugConflict(wanted)
    return wanted
  }
  const base = slugify(name)
  if (attempt === 0 && !(await repo.slugTaken(tx, base))) return base
  return `${base}-${randomBytes(3).toString('hex')}`
}

/**
 * Refuses SKUs in use by other variants, and a SKU given twice in one request (named at its
 * repeat: the first one is fine). `variants` is the request's list, to name the fields; a
 * change (with an `id`) may give its variant the SKU it has. A SKU moves to another variant
 * of the same product in two requests (free it, then take it): in one, the unique SKU would
 * be held twice between the two updates.
 */
async function refuseTakenSkus(tx: Db, variants: { id?: string; sku?: string }[]) {
  const holders = await repo.skuHolders(tx, variants.flatMap((v) => (v.sku ? [v.sku] : [])))
  const seen = new Set<string>()
  const refused: { sku: string; path: string; message: string }[] = []
  for (const [i, { id, sku }] of variants.entries()) {
    if (!sku) continue
    const holder = holders.get(sku)
    if (seen.has(sku)) refused.push({ sku, path: `variants.${i}.sku`, message: 'is given twice' })
    else if (holder !== undefined && holder !== id) refused.push({ sku, path: `variants.${i}.sku`, message: 'is already in use' })
    seen.add(sku)
  }
  if (refused.length > 0) throw skuConflict(refused)
}

const skuConflict = (refused: { sku: string; path: string; message: string }[]) =>
  new AppError('conflict', `SKU already in use: ${[...new Set(refused.map((r) => r.sku))].join(', ')}`, {
    errors: refused.map(({ path, message }) => ({ path, message })),
  })

const slugConflict = (slug: string) => new AppError('conflict', `The slug "${slug}" is taken`, { errors: [{ path: 'slug', message: 'is taken' }] })

/**
 * The checks above read before writing, so two requests at once can both pass them; the
 * unique indexes then refuse the second, and it gets the same 409 as if it had come later.
 * A generated slug is not the merchant's choice: that write is tried again with another.
 */
async function withUniqueChecks<T>(
  variants: { sku?: string }[],
  slug: string | undefined,
  write: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write(attempt)
    } catch (error) {
      const { code, constraint_name: constraint, detail } = error as { code?: string; constraint_name?: string; detail?: string }
      if (code !== '23505') throw error
      if (constraint === 'variants_sku_key') {
        const sku = /\(sku\)=\((.*)\) already exists/.exec(detail ?? '')?.[1]
        const i = variants.findIndex((v) => v.sku === sku)
        throw skuConflict([{ sku: sku ?? '?', path: i >= 0 ? `variants.${i}.sku` : 'variants', message: 'is already in use' }])
      }
      if (constraint === 'products_slug_key') {
        if (slug !== undefined) throw slugConflict(slug)
        if (attempt < 3) continue
      }
      throw error
    }
  }
}

/** One change per variant in a request: with two, one would silently win. */
function refuseRepeatedChanges(variants: (VariantChangeInput | NewVariantInput)[]) {
  const seen = new Set<string>()
  const errors = variants.flatMap((v, i) => {
    if (!isChange(v)) return []
    const repeated = seen.has(v.id)
    seen.add(v.id)
    return repeated ? [{ path: `variants.${i}.id`, message: 'is given twice' }] : []
  })
  if (errors.length > 0) throw validationFailed(errors)
}

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'))

/** Prices are in ISO 4217 currencies (DESIGN.md invariant 4): "ABC" is three capitals, not money. */
function refuseUnknownCurrencies(variants: { price?: { currency: string } }[]) {
  const errors = variants.flatMap((v, i) =>
    v.price && !CURRENCIES.has(v.price.currency) ? [{ path: `variants.${i}.price.currency`, message: 'is not an ISO 4217 currency code' }] : [],
  )
  if (errors.length > 0) throw validationFailed(errors)
}

/**
 * A product is priced in one currency: its summary (listings, search) shows one price, and
 * search filters and sorts by it. A write that would leave two is refused, naming the first
 * variant in the request priced otherwise than the rest.
 */
async function refuseMixedCurrencies(tx: Db, productId: string, variants: (VariantChangeInput | NewVariantInput)[]) {
  const currencies = await repo.variantCurrencies(tx, productId)
  if (currencies.length <= 1) return
  const priced = variants.map((v, i) => ({ i, currency: v.price?.currency })).filter((v) => v.currency !== undefined)
  const counts = new Map(priced.map((v) => [v.currency, priced.filter((w) => w.currency === v.currency).length]))
  const odd = priced.find((v) => counts.get(v.currency)! < Math.max(...counts.values())) ?? priced[priced.length - 1]
  throw validationFailed([
    { path: `variants.${odd?.i ?? 0}.price.currency`, message: `every variant of a product has one currency (this product would have ${currencies.join(' and ')})` },
  ])
}

async function addVariants(tx: Db, deps: WriteDeps, productId: string, variants: NewVariantInput[], firstPosition: number) {
  for (const [i, v] of variants.entries()) {
    const variantId = await repo.insertVariant(tx, {
      productId,
      sku: v.sku,
      title: v.title.trim(),
      amount: v.price.amount,
      currency: v.price.currency,
      position: firstPosition + i,
    })
    await deps.stock.setInitialStock(tx, variantId, v.stock)
  }
}

export async function createProduct(deps: WriteDeps, input: CreateProductInput): Promise<string> {
  let categoryCreated = false
  const id = await withUniqueChecks(input.variants, input.slug, (attempt) => deps.sql.begin(async (tx) => {
    refuseUnknownCurrencies(input.variants)
    await refuseTakenSkus(tx, input.variants)
    categoryCreated = await repo.ensureCategory(tx, input.category)
    const productId = await repo.insertProduct(tx, {
      slug: await freeSlug(tx, input.slug, input.name, attempt),
      name: input.name.trim(),
      description: input.description ?? '',
      brand: input.brand.trim(),
      category: input.category,
      images: input.images ?? [],
    })
    await addVariants(tx, deps, productId, input.variants, 0)
    await refuseMixedCurrencies(tx, productId, input.variants)
    await productUpdated(tx, productId, 'created')
    return productId
  }))
  await deps.afterChange(id, categoryCreated)
  return id
}

const isChange = (v: VariantChangeInput | NewVariantInput): v is VariantChangeInput => 'id' in v

export async function updateProduct(deps: WriteDeps, id: string, input: UpdateProductInput): Promise<void> {
  let categoryCreated = false
  await withUniqueChecks(input.variants ?? [], input.slug, () => deps.sql.begin(async (tx) => {
    if (input.slug && (await repo.slugTaken(tx, input.slug, id))) throw slugConflict(input.slug)
    if (input.category) categoryCreated = await repo.ensureCategory(tx, input.category)
    const found = await repo.updateProductFields(tx, id, {
      ...(input.name !== undefined && { name: input.name.trim() }),
      ...(input.slug !== undefined && { slug: input.slug }),
      ...(input.description !== undefined && { description: input.description }),
      ...(input.brand !== undefined && { brand: input.brand.trim() }),
      ...(input.category !== undefined && { category_path: input.category }),
      ...(input.images !== undefined && { images: input.images }),
    })
    if (!found) throw notFound('Product')

    const variants = input.variants ?? []
    const changes = variants.filter(isChange)
    const additions = variants.filter((v): v is NewVariantInput => !isChange(v))
    refuseUnknownCurrencies(variants)
    refuseRepeatedChanges(variants)
    await refuseTakenSkus(tx, variants)

    for (const change of changes) {
      const ok = await repo.updateVariant(tx, id, change.id, {
        ...(change.sku !== undefined && { sku: change.sku }),
        ...(change.title !== undefined && { title: change.title.trim() }),
        ...(change.price !== undefined && { price_amount: change.price.amount, currency: change.price.currency }),
      })
      if (!ok) throw validationFailed([{ path: `variants.${variants.indexOf(change)}.id`, message: 'is not a variant of this product' }])
    }
    if (additions.length > 0) await addVariants(tx, deps, id, additions, await repo.variantCount(tx, id))
    if (variants.some((v) => v.price !== undefined)) await refuseMixedCurrencies(tx, id, variants)
    await productUpdated(tx, id, 'updated')
  }))
  await deps.afterChange(id, categoryCreated)
}

export async function deleteProduct(deps: WriteDeps, id: string): Promise<void> {
  await deps.sql.begin(async (tx) => {
    if (!(await repo.softDeleteProduct(tx, id))) throw notFound('Product')
    await productUpdated(tx, id, 'deleted')
  })
  await deps.afterChange(id, false)
}
