import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import { createCartStore } from './store.ts'

const PASSWORD = 'correct horse battery'

describe('guest cart merges into the account cart at sign-in', () => {
  let t: TestApp
  let v: string[]

  before(async () => {
    t = await startTestApp()
    const res = await t.call('POST', '/admin/products', {
      token: await t.adminToken(),
      body: {
        name: 'Merge Test Mug',
        brand: 'Testbrand',
        category: 'merge-tests',
        variants: ['A', 'B', 'C'].map((title) => ({ sku: `MUG-${randomBytes(4).toString('hex')}`, title, price: { amount: 900, currency: 'USD' }, stock: 50 })),
      },
    })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    v = res.body.variants.map((variant: { id: string }) => variant.id)
  })
  after(() => t.close())

  const register = async (cartId?: string) => {
    const email = `m-${randomBytes(4).toString('hex')}@shop.test`
    const res = await t.call('POST', '/store/auth/register', { body: { email, password: PASSWORD, name: 'Merger', country: 'FR', cartId } })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return { email, token: res.body.token as string }
  }
  const login = (email: string, cartId?: string, password = PASSWORD) =>
    t.call('POST', '/store/auth/login', { body: { email, password, cartId } })
  /** A cart holding these lines (variant index -> quantity); with a token, that customer's account cart. */
  const cartWith = async (lines: Record<number, number>, token?: string) => {
    const id = token ? (await t.call('GET', '/store/customers/me/cart', { token })).body.id : (await t.call('POST', '/store/carts')).body.id
    for (const [index, quantity] of Object.entries(lines)) {
      const res = await t.call('POST', `/store/carts/${id}/items`, { token, body: { variantId: v[Number(index)], quantity } })
      assert.equal(res.status, 200, JSON.stringify(res.body))
    }
    return id as string
  }
  const accountLines = async (token: string) => {
    const cart = (await t.call('GET', '/store/customers/me/cart', { token })).body
    return Object.fromEntries(cart.items.map((i: { variantId: string; quantity: number }) => [v.indexOf(i.variantId), i.quantity]))
  }

  test('disjoint lines are all kept, and the guest cart is removed', async () => {
    const { email, token } = await register()
    await cartWith({ 1: 1 }, token)
    const guest = await cartWith({ 0: 2 })
    const res = await login(email, guest)
    assert.equal(res.status, 200)
    assert.deepEqual(await accountLines(res.body.token), { 0: 2, 1: 1 })
    assert.equal((await t.call('GET', `/store/carts/${guest}`)).status, 404)
  })

  test('where both hold a line the higher quantity wins', async () => {
    const { email, token } = await register()
    await cartWith({ 0: 1, 1: 4 }, token)
    const guest = await cartWith({ 0: 3, 1: 1, 2: 5 })
    const res = await login(email, guest)
    assert.deepEqual(await accountLines(res.body.token), { 0: 3, 1: 4, 2: 5 })
  })

  test('a full account cart: the guest lines that do not fit are answered, the rest merged', async () => {
    const many = await t.call('POST', '/admin/products', {
      token: await t.adminToken(),
      body: {
        name: 'Merge Test Sticker',
        brand: 'Testbrand',
        category: 'merge-tests',
        variants: Array.from({ length: 100 }, (_, i) => ({ sku: `STK-${i}-${randomBytes(4).toString('hex')}`, title: `No. ${i}`, price: { amount: 100, currency: 'USD' }, stock: 50 })),
      },
    })
    assert.equal(many.status, 201, JSON.stringify(many.body))
    const stickers: string[] = many.body.variants.map((variant: { id: string }) => variant.id)
    const { email, token } = await register()
    const accountId = (await t.call('GET', '/store/customers/me/cart', { token })).body.id
    for (const variantId of stickers) {
      const res = await t.call('POST', `/store/carts/${accountId}/items`, { token, body: { variantId, quantity: 1 } })
      assert.equal(res.status, 200, JSON.stringify(res.body))
    }
    const guest = (await t.call('POST', '/store/carts')).body.id
    for (const [variantId, quantity] of [[v[0], 2], [v[1], 1], [stickers[7], 5]] as const) {
      assert.equal((await t.call('POST', `/store/carts/${guest}/items`, { body: { variantId, quantity } })).status, 200)
    }

    const res = await login(email, guest)
    assert.equal(res.status, 200)
    const unmerged = [...res.body.unmergedLines].sort((a: { variantId: string }, b: { variantId: string }) => Number(a.variantId) - Number(b.variantId))
    assert.deepEqual(unmerged, [{ variantId: v[0], quantity: 2 }, { variantId: v[1], quantity: 1 }].sort((a, b) => Number(a.variantId) - Number(b.variantId)))
    const cart = (await t.call('GET', '/store/customers/me/cart', { token: res.body.token })).body
    assert.equal(cart.items.length, 100)
    assert.equal(cart.items.find((i: { variantId: string }) => i.variantId === stickers[7]).quantity, 5, 'a line both hold still takes the higher quantity')
    const left = await t.call('GET', `/store/carts/${guest}`)
    assert.equal(left.status, 200, 'the guest cart keeps what did not move')
    assert.deepEqual(
      left.body.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity]).sort(),
      [[v[0], 2], [v[1], 1]].sort(),
      'only the lines that did not move: the merged one left it',
    )
  })

  test('guest lines in another currency than the account cart\'s are answered, not merged', async () => {
    const euro = await t.call('POST', '/admin/products', {
      token: await t.adminToken(),
      body: { name: 'Euro Mug', brand: 'Testbrand', category: 'merge-tests', variants: [{ sku: `EUR-${randomBytes(4).toString('hex')}`, title: 'E', price: { amount: 1500, currency: 'EUR' }, stock: 50 }] },
    })
    const eur = euro.body.variants[0].id
    const { email, token } = await register()
    await cartWith({ 0: 1 }, token)
    const guest = (await t.call('POST', '/store/carts')).body.id
    assert.equal((await t.call('POST', `/store/carts/${guest}/items`, { body: { variantId: eur, quantity: 2 } })).status, 200)
    const res = await login(email, guest)
    assert.equal(res.status, 200)
    assert.deepEqual(res.body.unmergedLines, [{ variantId: eur, quantity: 2 }])
    const left = (await t.call('GET', `/store/carts/${guest}`)).body
    assert.deepEqual(left.items.map((i: { variantId: string; quantity: number }) => [i.variantId, i.quantity]), [[eur, 2]], 'the euro line stays in the guest cart')
    const cart = (await t.call('GET', '/store/customers/me/cart', { token })).body
    assert.deepEqual(cart.items.map((i: { variantId: string }) => i.variantId), [v[0]])
    assert.equal(cart.subtotal.currency, 'USD')
  })

  test('a merge where everything fits answers no unmergedLines', async () => {
    const { email } = await register()
    const res = await login(email, await cartWith({ 0: 1 }))
    assert.equal(res.status, 200)
    assert.equal('unmergedLines' in res.body, false)
  })

  test('an add that reaches a guest cart after its merge removed it is refused (404), not lost into an orphan line', async () => {
    const guest = (await t.call('POST', '/store/carts')).body.id as string
    await t.call('POST', `/store/carts/${guest}/items`, { body: { variantId: v[0], quantity: 1 } })
    const store = createCartStore(t.platform.kv)
    const snapshot = { productId: '1', name: 'Merge Test Mug', title: 'A', unitPrice: { amount: 900, currency: 'USD' }, addedAt: new Date().toISOString() }
    await register(guest)
    // The add read the cart (it existed) before the merge, and writes after it: the cart is gone.
    assert.deepEqual(await store.increment(guest, v[1], 1, 9, snapshot), { applied: false, value: 0, refused: 'gone' })
    assert.deepEqual(await store.lines(guest), new Map(), 'no orphan line left behind')
    assert.equal((await t.call('POST', `/store/carts/${guest}/items`, { body: { variantId: v[1], quantity: 1 } })).status, 404)
  })

  test('adds racing a sign-in merge: every add answered 200 is in the account cart, none lost between the merge\'s read and its removal', async () => {
    for (let round = 0; round < 8; round++) {
      const { email } = await register()
      const guest = await cartWith({ 0: 1 })
      const answered = [1, 0, 0]
      let signedIn = false
      const adding = (async () => {
        for (let i = 0; !signedIn && i < 500; i++) {
          const index = i % 3
          const res = await t.call('POST', `/store/carts/${guest}/items`, { body: { variantId: v[index], quantity: 1 } })
          if (res.status === 200) answered[index]++
          else assert.ok([404, 409].includes(res.status), `an add racing the merge: ${res.status} ${JSON.stringify(res.body)}`)
        }
      })()
      await sleep(round * 3)
      const res = await login(email, guest)
      signedIn = true
      await adding
      assert.equal(res.status, 200)
      const merged = await accountLines(res.body.token)
      assert.deepEqual([0, 1, 2].map((i) => merged[i] ?? 0), answered.map((n) => Math.min(n, 50)), `round ${round}: the account cart holds every add answered 200`)
    }
  })

  test('merging twice changes nothing', async () => {
    const { email, token } = await register()
    await cartWith({ 0: 1 }, token)
    const guest = await cartWith({ 0: 2, 1: 1 })
    await login(email, guest)
    const again = await login(email, guest)
    assert.equal(again.status, 200)
    assert.deepEqual(await accountLines(again.body.token), { 0: 2, 1: 1 })
  })

  test('no guest cart (unknown, expired or malformed id) signs in and changes nothing', async () => {
    const { email, token } = await register()
    await cartWith({ 2: 2 }, token)
    for (const cartId of [randomBytes(16).toString('base64url'), 'garbage']) {
      const res = await login(email, cartId)
      assert.equal(res.status, 200)
    }
    assert.deepEqual(await accountLines(token), { 2: 2 })
  })

  test('no account cart yet: register with a cartId makes the guest lines the account cart', async () => {
    const guest = await cartWith({ 0: 1, 2: 3 })
    const { token } = await register(guest)
    assert.deepEqual(await accountLines(token), { 0: 1, 2: 3 })
    assert.equal((await t.call('GET', `/store/carts/${guest}`)).status, 404)
  })

  test('the line snapshot (name, price) travels with a merged line', async () => {
    const { email } = await register()
    const guest = await cartWith({ 1: 1 })
    const res = await login(email, guest)
    const cart = (await t.call('GET', '/store/customers/me/cart', { token: res.body.token })).body
    assert.equal(cart.items[0].name, 'Merge Test Mug')
    assert.equal(cart.items[0].title, 'B')
    assert.deepEqual(cart.subtotal, { amount: 900, currency: 'USD' })
  })

  test("someone else's account cart (an id left on a shared device) is left alone, and the sign-in goes on", async () => {
    const victim = await register()
    const victimCart = await cartWith({ 0: 4 }, victim.token)
    const other = await register()
    const res = await login(other.email, victimCart)
    assert.equal(res.status, 200, 'the right password is never refused for a stale cart id')
    assert.deepEqual(await accountLines(res.body.token), {}, 'nothing of it merged')
    const viaRegister = await t.call('POST', '/store/auth/register', {
      body: { email: `x-${randomBytes(4).toString('hex')}@shop.test`, password: PASSWORD, name: 'X', country: 'US', cartId: victimCart },
    })
    assert.equal(viaRegister.status, 201)
    assert.deepEqual(await accountLines(viaRegister.body.token), {})
    assert.deepEqual(await accountLines(victim.token), { 0: 4 }, "the victim's cart is untouched")
    assert.equal((await t.call('GET', `/store/carts/${victimCart}`, { token: other.token })).status, 403, 'and still not readable by another')
  })

  test('the own account cart id as cartId is a no-op', async () => {
    const { email, token } = await register()
    const own = await cartWith({ 1: 2 }, token)
    const res = await login(email, own)
    assert.equal(res.status, 200)
    assert.deepEqual(await accountLines(token), { 1: 2 })
  })

  test('a failed sign-in merges nothing', async () => {
    const { email, token } = await register()
    const guest = await cartWith({ 0: 1 })
    assert.equal((await login(email, guest, 'wrong password!')).status, 401)
    assert.deepEqual(await accountLines(token), {})
    assert.equal((await t.call('GET', `/store/carts/${guest}`)).status, 200)
  })
})
