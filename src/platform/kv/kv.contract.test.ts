// The contract both KV adapters keep: the embedded default must behave like Redis.
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryKv } from './memory.ts'
import { RedisKv } from './redis.ts'
import type { Kv } from './types.ts'
import { dropInstanceKeys } from '../../../test/support/app.ts'

function contract(name: string, make: () => Promise<Kv>, cleanup: () => Promise<void> = async () => {}) {
  describe(`kv contract: ${name}`, () => {
    let kv: Kv
    const key = (k: string) => `contract:${k}`
    after(async () => {
      await kv?.close()
      await cleanup()
    })

    test('get/set/del', async () => {
      kv = await make()
      assert.equal(await kv.get(key('missing')), null)
      assert.equal(await kv.set(key('a'), 'one'), true)
      assert.equal(await kv.get(key('a')), 'one')
      assert.equal(await kv.del(key('a'), key('missing')), 1)
      assert.equal(await kv.get(key('a')), null)
    })

    test('set ifAbsent only sets a missing key', async () => {
      assert.equal(await kv.set(key('nx'), 'first', { ifAbsent: true }), true)
      assert.equal(await kv.set(key('nx'), 'second', { ifAbsent: true }), false)
      assert.equal(await kv.get(key('nx')), 'first')
    })

    test('ttl: set with expiry, expire, ttl of missing and persistent keys, expiry happens', async () => {
      await kv.set(key('ttl'), 'v', { ttlMs: 60_000 })
      const ttl = await kv.ttl(key('ttl'))
      assert.ok(ttl > 55_000 && ttl <= 60_000, `ttl ${ttl}`)
      await kv.set(key('forever'), 'v')
      assert.equal(await kv.ttl(key('forever')), -1)
      assert.equal(await kv.ttl(key('nothing')), -2)
      assert.equal(await kv.expire(key('forever'), 120_000), true)
      assert.ok((await kv.ttl(key('forever'))) > 115_000)
      assert.equal(await kv.expire(key('nothing'), 1000), false)
      await kv.set(key('short'), 'v', { ttlMs: 50 })
      await sleep(120)
      assert.equal(await kv.get(key('short')), null)
      assert.equal(await kv.ttl(key('short')), -2)
    })

    test('incr counts and sets the expiry only when the counter is new', async () => {
      assert.equal(await kv.incr(key('n')), 1)
      assert.equal(await kv.incr(key('n'), 5), 6)
      assert.equal(await kv.incr(key('limited'), 1, 60_000), 1)
      await kv.expire(key('limited'), 30_000)
      assert.equal(await kv.incr(key('limited'), 1, 60_000), 2)
      assert.ok((await kv.ttl(key('limited'))) <= 30_000, 'a later incr keeps the existing expiry')
    })

    test('hashes: hset, hget, hgetall, hincrby, hdel, hlen; an emptied hash is gone', async () => {
      const h = key('{h}:lines')
      assert.deepEqual(await kv.hgetall(h), {})
      await kv.hset(h, { a: '1', b: '2' })
      assert.equal(await kv.hget(h, 'a'), '1')
      assert.equal(await kv.hget(h, 'zz'), null)
      assert.equal(await kv.hincrby(h, 'a', 4), 5)
      assert.equal(await kv.hincrby(h, 'c', 1), 1)
      assert.deepEqual(await kv.hgetall(h), { a: '5', b: '2', c: '1' })
      assert.equal(await kv.hlen(h), 3)
      assert.equal(await kv.hdel(h, 'a', 'b', 'missing'), 2)
      await kv.expire(h, 60_000)
      assert.ok((await kv.ttl(h)) > 0)
      assert.equal(await kv.hdel(h, 'c'), 1)
      assert.equal(await kv.ttl(h), -2)
    })

    test('100 concurrent hincrby never lose an update', async () => {
      const h = key('{race}:lines')
      await Promise.all(Array.from({ length: 100 }, () => kv.hincrby(h, 'v', 1)))
      assert.equal(await kv.hget(h, 'v'), '100')
    })

    test('a string key is not a hash', async () => {
      await kv.set(key('str'), 'x')
      await assert.rejects(kv.hget(key('str'), 'f'))
    })

    test('publish reaches subscribers, counts them, and stops after unsubscribe', async () => {
      const got: string[] = []
      const stop = await kv.subscribe('contract-channel', (m) => got.push(m))
      assert.equal(await kv.publish('contract-channel', 'hello'), 1, 'one subscriber received it')
      for (let i = 0; i < 50 && got.length === 0; i++) await sleep(10)
      assert.deepEqual(got, ['hello'])
      await stop()
      assert.equal(await kv.publish('contract-channel', 'after'), 0)
      await sleep(50)
      assert.deepEqual(got, ['hello'])
    })

    test('hincrbyWithin: applies inside the bounds, refuses outside, caps new fields, renews the ttl, never loses an update', async () => {
      const h = key('{bounded}:lines')
      assert.deepEqual(await kv.hincrbyWithin(h, 'a', 3, { min: 1, max: 5, ttlMs: 60_000 }), { applied: true, value: 3 })
      assert.ok((await kv.ttl(h)) > 55_000)
      assert.deepEqual(await kv.hincrbyWithin(h, 'a', 3, { min: 1, max: 5 }), { applied: false, value: 3, refused: 'range' })
      assert.deepEqual(await kv.hincrbyWithin(h, 'a', -3, { min: 1 }), { applied: false, value: 3, refused: 'range' })
      assert.deepEqual(await kv.hincrbyWithin(h, 'b', 1, { maxFields: 1 }), { applied: false, value: 0, refused: 'fields' })
      assert.deepEqual(await kv.hincrbyWithin(h, 'a', 2, { maxFields: 1 }), { applied: true, value: 5 }, 'an existing field is not capped')
      // min = max = target: a compare-and-set that fails once the value moved.
      assert.deepEqual(await kv.hincrbyWithin(h, 'a', 4 - 5, { min: 4, max: 4 }), { applied: true, value: 4 })
      assert.equal((await kv.hincrbyWithin(h, 'a', 9 - 5, { min: 9, max: 9 })).applied, false)
      await kv.expire(h, 1000)
      await kv.hincrbyWithin(h, 'a', 1, { ttlMs: 120_000 })
      assert.ok((await kv.ttl(h)) > 115_000, 'an applied increment renews the life')
      assert.equal(await kv.hincrbyWithin(h, 'a', 1000, { max: 10 }).then(() => kv.ttl(h)).then((t) => t > 115_000), true)
      await Promise.all(Array.from({ length: 100 }, () => kv.hincrbyWithin(h, 'race', 1, { max: 60 })))
      assert.equal(await kv.hget(h, 'race'), '60', 'exactly max, no lost or extra update')
      await kv.del(h)
    })

    test('hincrbyWithin with `requires`: applies while the record exists; once it is gone, refuses and writes nothing', async () => {
      const [meta, lines, items] = [key('{owned}:meta'), key('{owned}:lines'), key('{owned}:items')]
      await kv.set(meta, '{}', { ttlMs: 60_000 })
      const add = () => kv.hincrbyWithin(lines, 'a', 1, { max: 9, requires: meta, alsoSet: { key: items, fields: { a: 'A' } }, renew: [meta, items], ttlMs: 60_000 })
      assert.deepEqual(await add(), { applied: true, value: 1 })
      await kv.del(meta, lines, items)
      assert.deepEqual(await add(), { applied: false, value: 0, refused: 'gone' })
      assert.deepEqual([await kv.hlen(lines), await kv.hlen(items), await kv.get(meta)], [0, 0, null], 'no orphan left behind')
    })

    test('hsubtractOrDelete: takes amounts off, deletes fields that reach 0 (with their companions), leaves absent fields and keys alone', async () => {
      const [lines, items] = [key('{subtract}:lines'), key('{subtract}:items')]
      await kv.hset(lines, { a: '5', b: '2', c: '1' })
      await kv.hset(items, { a: 'A', b: 'B', c: 'C' })
      await kv.expire(lines, 60_000)
      await kv.hsubtractOrDelete(lines, { a: 2, b: 2, c: 3, missing: 1 }, { alsoDeleteFrom: items })
      assert.deepEqual(await kv.hgetall(lines), { a: '3' })
      assert.deepEqual(await kv.hgetall(items), { a: 'A' })
      assert.ok((await kv.ttl(lines)) > 55_000, 'the life is kept')
      await kv.hsubtractOrDelete(lines, { a: 3 }, { alsoDeleteFrom: items })
      assert.equal(await kv.hlen(lines), 0)
      assert.deepEqual(await kv.hgetall(items), {})
      await kv.hsubtractOrDelete(key('{subtract}:none'), { a: 1 })
      assert.equal(await kv.ttl(key('{subtract}:none')), -2, 'no key is created')
      // Racing subtractions never take more than there is, nor lose one.
      await kv.hset(lines, { r: '50' })
      await Promise.all(Array.from({ length: 30 }, () => kv.hsubtractOrDelete(lines, { r: 1 })))
      assert.equal(await kv.hget(lines, 'r'), '20')
      await kv.del(lines, items)
    })

    test('hsubtractOrDelete once: a second take-out with the same id changes nothing', async () => {
      const [lines, applied] = [key('{once}:lines'), key('{once}:taken')]
      await kv.hset(lines, { a: '5' })
      await Promise.all(Array.from({ length: 5 }, () => kv.hsubtractOrDelete(lines, { a: 2 }, { once: { key: applied, id: 'order-1', ttlMs: 60_000 } })))
      assert.equal(await kv.hget(lines, 'a'), '3', 'five racing takers of one order take once')
      await kv.hsubtractOrDelete(lines, { a: 2 }, { once: { key: applied, id: 'order-2', ttlMs: 60_000 } })
      assert.equal(await kv.hget(lines, 'a'), '1', 'another order takes its own')
      assert.ok((await kv.ttl(applied)) > 55_000)
      await kv.del(lines, applied)
    })

    test('`unless`: hincrbyWithin and hsubtractOrDelete refuse while the key exists, writing nothing; apply once it is gone', async () => {
      const [lines, items, claim, taken] = [key('{unless}:lines'), key('{unless}:items'), key('{unless}:checkout'), key('{unless}:taken')]
      await kv.hset(lines, { a: '3', b: '1' })
      await kv.hset(items, { a: 'A', b: 'B' })
      await kv.set(claim, 'checkout-1', { ttlMs: 60_000 })
      assert.deepEqual(await kv.hincrbyWithin(lines, 'a', -1, { min: 1, unless: claim }), { applied: false, value: 3, refused: 'held' })
      assert.equal(await kv.hsubtractOrDelete(lines, { b: 5 }, { alsoDeleteFrom: items, unless: claim, once: { key: taken, id: 'o', ttlMs: 60_000 } }), 'held')
      assert.deepEqual([await kv.hgetall(lines), await kv.hgetall(items), await kv.ttl(taken)], [{ a: '3', b: '1' }, { a: 'A', b: 'B' }, -2], 'nothing written, `once` not recorded')
      await kv.del(claim)
      assert.deepEqual(await kv.hincrbyWithin(lines, 'a', -1, { min: 1, unless: claim }), { applied: true, value: 2 })
      assert.equal(await kv.hsubtractOrDelete(lines, { b: 5 }, { alsoDeleteFrom: items, unless: claim, once: { key: taken, id: 'o', ttlMs: 60_000 } }), 'applied')
      assert.equal(await kv.hsubtractOrDelete(lines, { a: 1 }, { once: { key: taken, id: 'o', ttlMs: 60_000 } }), 'done before')
      assert.deepEqual([await kv.hgetall(lines), await kv.hgetall(items)], [{ a: '2' }, { a: 'A' }])
      await kv.del(lines, items, taken)
    })

    test('claim: taken when absent, taken again (and renewed) by its holder, or over from the holder it replaces; refused to another', async () => {
      assert.equal(await kv.claim(key('claimed'), 'first', 1_000), true)
      assert.equal(await kv.claim(key('claimed'), 'second', 60_000), false)
      assert.equal(await kv.claim(key('claimed'), 'second', 60_000, 'someone-else'), false)
      assert.equal(await kv.get(key('claimed')), 'first')
      assert.ok((await kv.ttl(key('claimed'))) <= 1_000, 'a refused claim renews nothing')
      assert.equal(await kv.claim(key('claimed'), 'first', 60_000), true)
      assert.ok((await kv.ttl(key('claimed'))) > 55_000, "the holder's claim is renewed")
      assert.equal(await kv.claim(key('claimed'), 'second', 60_000, 'first'), true, 'taken over')
      assert.equal(await kv.get(key('claimed')), 'second')
      assert.equal(await kv.delIfEquals(key('claimed'), 'first'), false, 'the replaced holder cannot let it go')
      await kv.del(key('claimed'))
      assert.equal(await kv.claim(key('claimed'), 'third', 60_000), true)
    })

    test('delIfEquals: deletes only while the key holds the value', async () => {
      await kv.set(key('claim'), 'mine', { ttlMs: 60_000 })
      assert.equal(await kv.delIfEquals(key('claim'), 'theirs'), false)
      assert.equal(await kv.get(key('claim')), 'mine')
      assert.equal(await kv.delIfEquals(key('claim'), 'mine'), true)
      assert.equal(await kv.get(key('claim')), null)
      assert.equal(await kv.delIfEquals(key('claim'), 'mine'), false)
    })

    test('hincrbyWithin: when applied, it also writes alsoSet and renews the keys in renew; when refused, neither', async () => {
      const [lines, items, meta] = [key('{companions}:lines'), key('{companions}:items'), key('{companions}:meta')]
      await kv.set(meta, 'm', { ttlMs: 1000 })
      const applied = await kv.hincrbyWithin(lines, 'v1', 2, {
        max: 5,
        ttlMs: 120_000,
        renew: [meta, items],
        alsoSet: { key: items, fields: { v1: 'snapshot 1', note: 'x' } },
      })
      assert.deepEqual(applied, { applied: true, value: 2 })
      assert.deepEqual(await kv.hgetall(items), { v1: 'snapshot 1', note: 'x' })
      for (const renewed of [lines, items, meta]) assert.ok((await kv.ttl(renewed)) > 115_000, `${renewed} renewed`)

      await kv.expire(meta, 1000)
      const refused = await kv.hincrbyWithin(lines, 'v1', 9, { max: 5, ttlMs: 120_000, renew: [meta], alsoSet: { key: items, fields: { v1: 'snapshot 2' } } })
      assert.deepEqual(refused, { applied: false, value: 2, refused: 'range' })
      assert.equal(await kv.hget(items, 'v1'), 'snapshot 1', 'a refused change writes nothing')
      assert.ok((await kv.ttl(meta)) <= 1000, 'nor renews anything')

      const absent = key('{companions}:absent')
      await kv.hincrbyWithin(lines, 'v2', 1, { ttlMs: 60_000, renew: [absent] })
      assert.equal(await kv.ttl(absent), -2, 'renewing a key that does not exist does not create it')
      await kv.del(lines, items, meta)
    })

    test('ping answers', async () => {
      await kv.ping()
    })
  })
}

contract('memory', async () => new MemoryKv())

const redisUrl = process.env.REDIS_URL
if (redisUrl) {
  const instance = `kvc${randomBytes(4).toString('hex')}`
  contract(
    'redis',
    async () => {
      const kv = new RedisKv(redisUrl, instance)
      await kv.connect()
      return kv
    },
    () => dropInstanceKeys(instance),
  )

  test('redis keys carry the INSTANCE prefix, so deployments can share one server', async () => {
    const a = new RedisKv(redisUrl, `${instance}a`)
    const b = new RedisKv(redisUrl, `${instance}b`)
    await Promise.all([a.connect(), b.connect()])
    await a.set('shared-name', 'from a')
    assert.equal(await b.get('shared-name'), null)
    await Promise.all([a.close(), b.close(), dropInstanceKeys(`${instance}a`)])
  })
} else {
  test('redis adapter contract', { skip: 'REDIS_URL is not set (CI sets it)' }, () => {})
}
