// The order of a checkout's KV commands, which its safety rests on (no servers needed).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryKv } from '../../platform/kv/memory.ts'
import type { Kv } from '../../platform/kv/types.ts'
import { cartCheckoutPort } from './checkout-port.ts'
import { createCartStore } from './store.ts'

/** A KV that records the commands in the order they are issued. */
function recording(kv: Kv, calls: string[]): Kv {
  return new Proxy(kv, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push(`${String(name)} ${String(args[0])}`)
        return value.apply(target, args)
      }
    },
  })
}

test('opening a checkout takes the claim before it reads the lines: a checkout ending meanwhile is seen whole or not at all', async () => {
  const calls: string[] = []
  const store = createCartStore(recording(new MemoryKv(), calls))
  const cartId = await store.create(null)
  calls.length = 0
  const opened = await cartCheckoutPort(store, { declinesPerShopper: 20 }).beginCheckout(cartId, null, 'key-1')
  assert.equal(opened.kind, 'open')
  assert.match(calls[0], /^claim .*:checkout$/, calls.join(" | "))
  assert.ok(calls.findIndex((c) => /^hgetall .*:lines$/.test(c)) > 0)
})

test('the in-memory take-out is one synchronous step, like the Redis script: nothing runs between the line going and its snapshot going', async () => {
  const kv = new MemoryKv()
  await kv.hset('cart:{c}:lines', { v1: '1' })
  await kv.hset('cart:{c}:items', { v1: 'snapshot' })
  const taking = kv.hsubtractOrDelete('cart:{c}:lines', { v1: 1 }, { alsoDeleteFrom: 'cart:{c}:items' })
  // Synchronously after the call: both are gone already.
  const [lines, items] = [kv.hgetall('cart:{c}:lines'), kv.hgetall('cart:{c}:items')]
  await taking
  assert.deepEqual([await lines, await items], [{}, {}])
})
