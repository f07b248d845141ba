import { Type, type Static } from 'typebox'
import { PATTERNS } from '../../platform/http/errors.ts'

export const SLUG = '^[a-z0-9]+(?:-[a-z0-9]+)*$'

export const Money = Type.Object(
  {
    amount: Type.Integer({ minimum: 0, maximum: 100_000_000_00 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  },
  { additionalProperties: false },
)

const Sku = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._/-]+$' })
const VariantTitle = Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.line })
const Stock = Type.Integer({ minimum: 0, maximum: 1_000_000_000 })

export const NewVariant = Type.Object(
  { sku: Sku, title: VariantTitle, price: Money, stock: Stock },
  { additionalProperties: false },
)

export const VariantChange = Type.Object(
  {
    id: Type.String({ pattern: PATTERNS.id }),
    sku: Type.Optional(Sku),
    title: Type.Optional(VariantTitle),
    price: Type.Optional(Money),
  },
  { additionalProperties: false },
)

const productFields = {
  name: Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.line }),
  slug: Type.String({ minLength: 1, maxLength: 200, pattern: SLUG }),
  description: Type.String({ maxLength: 20_000 }),
  brand: Type.String({ minLength: 1, maxLength: 100, pattern: PATTERNS.line }),
  category: Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.categoryPath }),
  // http(s) only: a storefront links these, and javascript: or data: URLs would run there.
  images: Type.Array(Type.String({ format: 'uri', maxLength: 2000, pattern: PATTERNS.httpUrl }), { maxItems: 20 }),
}

export const CreateProduct = Type.Object(
  {
    name: productFields.name,
    slug: Type.Optional(productFields.slug),
    description: Type.Optional(productFields.description),
    brand: productFields.brand,
    category: productFields.category,
    images: Type.Optional(productFields.images),
    variants: Type.Array(NewVariant, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
)

export const UpdateProduct = Type.Object(
  {
    name: Type.Optional(productFields.name),
    slug: Type.Optional(productFields.slug),
    description: Type.Optional(productFields.description),
    brand: Type.Optional(productFields.brand),
    category: Type.Optional(productFields.category),
    images: Type.Optional(productFields.images),
    variants: Type.Optional(Type.Array(Type.Union([VariantChange, NewVariant]), { maxItems: 100 })),
  },
  { additionalProperties: false, minProperties: 1 },
)

export const ProductParams = Type.Object({ id: Type.String({ maxLength: 100 }) })

export const ListQuery = Type.Object(
  {
    category: Type.Optional(Type.String({ maxLength: 200, pattern: PATTERNS.categoryPath })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
)

export const VariantView = Type.Object({
  id: Type.String(),
  sku: Type.String(),
  title: Type.String(),
  price: Money,
  inStock: Type.Boolean(),
})

export const ProductView = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  description: Type.String(),
  brand: Type.String(),
  category: Type.String(),
  images: Type.Array(Type.String()),
  variants: Type.Array(VariantView),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

export interface CategoryNode {
  path: string
  name: string
  children: CategoryNode[]
}

export type CreateProductInput = Static<typeof CreateProduct>
export type UpdateProductInput = Static<typeof UpdateProduct>
export type NewVariantInput = Static<typeof NewVariant>
export type VariantChangeInput = Static<typeof VariantChange>
export type ProductViewT = Static<typeof ProductView>
