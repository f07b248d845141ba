import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cachedAvailability } from './stock-check.ts'

describe('the soft stock check', () => {
  const fakeStock = (units: Record<string, number>) => {
    const asked: string[] = []
    return {
      asked,
      async available(ids: string[]) {
        asked.push(...ids)
        return new Map(ids.map((id) => [id, units[id] ?? 0]))
      },
    }
  }

  test('a plentiful count is reused for a moment; concurrent checks share one query', async () => {
    const stock = fakeStock({ hot: 50_000 })
    const check = cachedAvailability(stock, 60_000)
    assert.deepEqual(await Promise.all([check('hot'), check('hot'), check('hot')]), [50_000, 50_000, 50_000])
    assert.equal(await check('hot'), 50_000)
    assert.deepEqual(stock.asked, ['hot'])
  })

  test('a low count is read fresh every time, so "only n left" is exact', async () => {
    const units = { scarce: 3 }
    const stock = fakeStock(units)
    const check = cachedAvailability(stock, 60_000)
    assert.equal(await check('scarce'), 3)
    units.scarce = 0
    assert.equal(await check('scarce'), 0)
    assert.equal(stock.asked.length, 2)
  })

  test('ttl 0 asks every time', async () => {
    const stock = fakeStock({ hot: 50_000 })
    const check = cachedAvailability(stock, 0)
    await check('hot')
    await check('hot')
    assert.equal(stock.asked.length, 2)
  })
})
