import { Type, type Static } from 'typebox'
import { SEARCH_SORTS } from './engine.ts'
import { PATTERNS } from '../../platform/http/errors.ts'

const MAX_PRICE = 100_000_000_00

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Any text: words (all must match), "a phrase", -exclusion' })),
    category: Type.Optional(Type.String({ maxLength: 200, pattern: PATTERNS.categoryPath, description: 'Includes subcategories' })),
    brand: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: PATTERNS.noControl }), { maxItems: 20, description: 'Repeat for several: brand=a&brand=b' })),
    minPrice: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PRICE, description: 'Minor units, inclusive' })),
    maxPrice: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PRICE, description: 'Minor units, inclusive' })),
    inStock: Type.Optional(Type.Boolean({ description: 'true: only products that can be bought now' })),
    sort: Type.Optional(Type.Enum([...SEARCH_SORTS])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
)

export const SuggestQuery = Type.Object(
  {
    q: Type.String({ maxLength: 100, description: 'What has been typed so far' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, default: 8 })),
  },
  { additionalProperties: false },
)

const Money = Type.Object({ amount: Type.Integer(), currency: Type.String() })
const FacetValue = Type.Object({ value: Type.String(), count: Type.Integer() })

export const ProductSummary = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  brand: Type.String(),
  category: Type.String(),
  price: Money,
  image: Type.Union([Type.String(), Type.Null()]),
  inStock: Type.Boolean(),
})

export const SearchAnswer = Type.Object({
  items: Type.Array(ProductSummary),
  total: Type.Integer(),
  totalIsEstimate: Type.Boolean(),
  facets: Type.Object({
    category: Type.Array(FacetValue),
    brand: Type.Array(FacetValue),
    price: Type.Array(
      Type.Object({ min: Type.Integer(), max: Type.Union([Type.Integer(), Type.Null()]), count: Type.Integer() }, { description: 'Minor units, both bounds inclusive (as minPrice and maxPrice); max null: no upper bound' }),
    ),
  }),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  didYouMean: Type.Optional(Type.String()),
})

export const SuggestAnswer = Type.Object({
  items: Type.Array(Type.Object({ text: Type.String(), kind: Type.Union([Type.Literal('name'), Type.Literal('brand')]) })),
})

export type SearchQueryInput = Static<typeof SearchQuery>
export type SearchAnswerT = Static<typeof SearchAnswer>
