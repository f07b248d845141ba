import assert from 'node:assert/strict'
import { test } from 'node:test'
import { facetsOf, type Group } from './facets.ts'

const groups: Group[] = [
  ['footwear/boots', 'Ironclad', 2, 3],
  ['footwear/boots', 'Peak Motion', 3, 1],
  ['footwear/sandals', 'Peak Motion', 2, 2],
  ['outdoor', 'Ironclad', 7, 4],
  ['outdoor', 'Atlas', 0, 1],
]
const asIs = (n: number) => n

test('a category counts its own matches and all its subcategories', () => {
  const { category } = facetsOf(groups, asIs)
  assert.deepEqual(category, [
    { value: 'footwear', count: 6 },
    { value: 'outdoor', count: 5 },
    { value: 'footwear/boots', count: 4 },
    { value: 'footwear/sandals', count: 2 },
  ])
})

test('brands are summed over categories and buckets, most matches first, ties by name', () => {
  const { brand } = facetsOf(groups, asIs)
  assert.deepEqual(brand, [
    { value: 'Ironclad', count: 7 },
    { value: 'Peak Motion', count: 3 },
    { value: 'Atlas', count: 1 },
  ])
  const tied = facetsOf([['a', 'Zeta', 1, 2], ['a', 'Alpha', 1, 2]], asIs).brand.map((f) => f.value)
  assert.deepEqual(tied, ['Alpha', 'Zeta'])
})

test('price buckets come in price order with inclusive bounds (as minPrice and maxPrice are); the last one is open-ended', () => {
  const { price } = facetsOf(groups, asIs)
  assert.deepEqual(price, [
    { min: 1_000, max: 2_499, count: 5 },
    { min: 2_500, max: 4_999, count: 1 },
    { min: 50_000, max: null, count: 4 },
  ])
})

test('counts go through the scale (an estimated total scales every facet)', () => {
  const { brand, category } = facetsOf(groups, (n) => n * 10)
  assert.equal(brand[0].count, 70)
  assert.equal(category[0].count, 60)
})

test('no matches: no facet values', () => {
  assert.deepEqual(facetsOf([], asIs), { category: [], brand: [], price: [] })
})

test('at most 50 brands are answered', () => {
  const many: Group[] = Array.from({ length: 80 }, (_, i) => ['a', `Brand ${String(i).padStart(2, '0')}`, 1, 80 - i])
  const { brand } = facetsOf(many, asIs)
  assert.equal(brand.length, 50)
  assert.equal(brand[0].value, 'Brand 00')
})
