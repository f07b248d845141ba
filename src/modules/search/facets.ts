// Facet counts for a search answer, summed from the matches counted per (leaf category,
// brand, price bucket): the statement groups once, the three facets are sums over the groups.
import type { Facets, FacetValue } from './engine.ts'

/** Lower bounds of the price buckets in minor units; the last bucket is open-ended. */
export const PRICE_BOUNDS = [0, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000]
const CATEGORY_FACET_VALUES = 100
const BRAND_FACET_VALUES = 50

/** [leaf category path, brand, price bucket (1-based; 0 below the first bound), matches]. */
export type Group = [string, string, number, number]

const byCountThenValue = (a: FacetValue, b: FacetValue) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)

function topValues(counts: Map<string, number>, limit: number, scaled: (n: number) => number): FacetValue[] {
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort(byCountThenValue)
    .slice(0, limit)
    .map((f) => ({ value: f.value, count: scaled(f.count) }))
}

/** The three facets from the groups; a category's count includes its subcategories'. */
export function facetsOf(groups: Group[], scaled: (n: number) => number): Facets {
  const categories = new Map<string, number>()
  const brands = new Map<string, number>()
  const buckets = new Map<number, number>()
  for (const [path, brand, bucket, n] of groups) {
    let ancestor = ''
    for (const segment of path.split('/')) {
      ancestor = ancestor ? `${ancestor}/${segment}` : segment
      categories.set(ancestor, (categories.get(ancestor) ?? 0) + n)
    }
    brands.set(brand, (brands.get(brand) ?? 0) + n)
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + n)
  }
  return {
    category: topValues(categories, CATEGORY_FACET_VALUES, scaled),
    brand: topValues(brands, BRAND_FACET_VALUES, scaled),
    price: [...buckets]
      .filter(([bucket]) => bucket >= 1)
      .sort(([a], [b]) => a - b)
      // Both bounds inclusive, like minPrice and maxPrice: a bucket turned into a filter
      // (minPrice=1000&maxPrice=2499) finds exactly the products it counted.
      .map(([bucket, n]) => ({ min: PRICE_BOUNDS[bucket - 1], max: bucket < PRICE_BOUNDS.length ? PRICE_BOUNDS[bucket] - 1 : null, count: scaled(n) })),
  }
}
