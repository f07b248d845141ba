import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { sampleProduct, startTestApp, type TestApp } from '../../../test/support/app.ts'
import { setHashingLimits } from './passwords.ts'

const PASSWORD = 'correct horse battery'
const uniqueEmail = () => `a-${randomBytes(4).toString('hex')}@shop.test`

describe('customer accounts and sessions', () => {
  let t: TestApp

  before(async () => {
    t = await startTestApp()
  })
  after(() => t.close())

  const register = (body: Record<string, unknown>) =>
    t.call('POST', '/store/auth/register', { body: { email: uniqueEmail(), password: PASSWORD, name: 'Ada Shopper', country: 'DE', ...body } })
  const me = (headers: Record<string, string>) => t.call('GET', '/store/customers/me', { headers })

  test('register answers 201 as login: token, customer and an httpOnly, SameSite=Lax sid cookie', async () => {
    const email = uniqueEmail()
    const res = await register({ email })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.ok(res.body.token.length >= 22, 'at least 128 bits')
    assert.match(res.body.customer.id, /^\d+$/)
    assert.deepEqual(
      { ...res.body.customer, id: undefined, createdAt: undefined },
      { id: undefined, createdAt: undefined, email, name: 'Ada Shopper', role: 'customer', country: 'DE', region: 'eu' },
    )
    const cookie = res.headers.get('set-cookie') ?? ''
    assert.match(cookie, new RegExp(`^sid=${res.body.token};`))
    assert.match(cookie, /HttpOnly/)
    assert.match(cookie, /SameSite=Lax/)
    assert.match(cookie, /Path=\//)
    assert.doesNotMatch(cookie, /Secure/, 'plain HTTP here; Secure is set when the request came over HTTPS')

    assert.equal((await me({ authorization: `Bearer ${res.body.token}` })).body.email, email)
    assert.equal((await me({ cookie: `sid=${res.body.token}` })).body.email, email, 'the cookie alone works too')
  })

  test("a change asked for from another site's page does not count the session cookie (CSRF); this site's pages, reads and bearer tokens do", async () => {
    const admin = await t.adminToken()
    const product = await t.call('POST', '/admin/products', {
      token: admin,
      body: sampleProduct({ variants: [{ sku: `CSRF-${randomBytes(4).toString('hex')}`, title: 'One', price: { amount: 100, currency: 'USD' }, stock: 5 }] }),
    })
    assert.equal(product.status, 201, JSON.stringify(product.body))
    const variant = product.body.variants[0].id
    const set = (available: number, headers: Record<string, string>) => t.call('PUT', `/admin/inventory/${variant}`, { body: { available }, headers })
    const cookie = `sid=${admin}`
    for (const site of ['cross-site', 'same-site']) {
      const forged = await set(0, { cookie, 'sec-fetch-site': site })
      assert.equal(forged.status, 401, `${site}: ${JSON.stringify(forged.body)}`)
    }
    assert.equal((await t.call('GET', `/admin/inventory/${variant}`, { token: admin })).body.available, 5, 'nothing changed')
    assert.equal((await t.call('GET', `/admin/inventory/${variant}`, { headers: { cookie, 'sec-fetch-site': 'cross-site' } })).status, 200, 'a read (a link followed) is the user')
    assert.equal((await set(4, { cookie, 'sec-fetch-site': 'same-origin' })).status, 200, "this site's own page")
    assert.equal((await set(3, { cookie })).status, 200, 'no browser (curl, an app)')
    assert.equal((await set(2, { authorization: `Bearer ${admin}`, 'sec-fetch-site': 'cross-site' })).status, 200, 'a bearer token is sent on purpose')
    assert.equal((await t.call('GET', `/admin/inventory/${variant}`, { token: admin })).body.available, 2)
    // Nor can another site's page sign the browser out: no cookie-clearing answer, the session stays.
    const logout = await t.call('POST', '/store/auth/logout', { headers: { cookie, 'sec-fetch-site': 'cross-site' } })
    assert.equal(logout.status, 204)
    assert.equal(logout.headers.get('set-cookie'), null, 'the cookie is not cleared')
    assert.equal((await t.call('GET', '/store/customers/me', { token: admin })).status, 200, 'the session is not revoked')
  })

  test('the password is stored as an argon2id hash, never as given', async () => {
    const email = uniqueEmail()
    await register({ email })
    const [row] = await t.platform.sql<{ password_hash: string }[]>`select password_hash from customers.customers where email = ${email}`
    assert.match(row.password_hash, /^\$argon2id\$/)
    assert.ok(!row.password_hash.includes(PASSWORD))
  })

  test('the e-mail is trimmed and lower-cased, and unique whatever its case (409 naming email)', async () => {
    const local = `Mixed.${randomBytes(3).toString('hex')}`
    const res = await register({ email: `  ${local}@Example.COM ` })
    assert.equal(res.status, 201)
    assert.equal(res.body.customer.email, `${local.toLowerCase()}@example.com`)
    const login = await t.call('POST', '/store/auth/login', { body: { email: `${local.toUpperCase()}@example.com`, password: PASSWORD } })
    assert.equal(login.status, 200)

    const duplicate = await register({ email: `${local.toLowerCase()}@EXAMPLE.com` })
    assert.equal(duplicate.status, 409)
    assert.equal(duplicate.body.code, 'conflict')
    assert.deepEqual(duplicate.body.errors.map((e: { path: string }) => e.path), ['email'])
  })

  test('the e-mail is kept in Unicode NFC: one address however its accents are typed', async () => {
    const local = `nf${randomBytes(3).toString('hex')}`
    const composed = `${local}\u00fc@example.com` // ü as one character
    const decomposed = `${local}u\u0308@example.com` // u + combining diaeresis
    const res = await register({ email: decomposed })
    assert.equal(res.status, 201)
    assert.equal(res.body.customer.email, composed)
    const duplicate = await register({ email: composed })
    assert.equal(duplicate.status, 409, 'the same address typed the other way')
    for (const email of [composed, decomposed]) {
      assert.equal((await t.call('POST', '/store/auth/login', { body: { email, password: PASSWORD } })).status, 200, JSON.stringify(email))
    }
  })

  test('concurrent registrations of one e-mail create one account', async () => {
    const email = uniqueEmail()
    const answers = await Promise.all(Array.from({ length: 5 }, () => register({ email })))
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409, 409, 409, 409])
  })

  test('password hashing is admitted a few at a time: a burst past the queue is told 503 with Retry-After at once, the rest go through', async () => {
    setHashingLimits({ concurrent: 1, queue: 2 })
    try {
      const answers = await Promise.all(Array.from({ length: 12 }, () => register({})))
      const statuses = answers.map((a) => a.status)
      assert.ok(statuses.every((s) => s === 201 || s === 503), statuses.join())
      const refused = answers.filter((a) => a.status === 503)
      assert.ok(refused.length >= 1 && refused.length <= 9, `${refused.length} refused`)
      assert.ok(refused.every((a) => a.body.code === 'unavailable' && a.headers.get('retry-after') === '1'))
      // A refused sign-in or registration did nothing; the next one goes through.
      assert.equal((await register({})).status, 201)
      const wrong = await t.call('POST', '/store/auth/login', { body: { email: uniqueEmail(), password: 'not the password' } })
      assert.equal(wrong.status, 401, 'verification is admitted too, and slots are handed back')
    } finally {
      setHashingLimits({ concurrent: os.availableParallelism(), queue: 32 })
    }
  })

  test('passwords of 8 to 128 characters are accepted; shorter, longer or blank are refused naming password', async () => {
    for (const password of ['1234567', 'x'.repeat(129), '', ' '.repeat(8)]) {
      const res = await register({ password })
      assert.equal(res.status, 400, `length ${password.length}`)
      assert.equal(res.body.code, 'validation_failed')
      assert.deepEqual([...new Set(res.body.errors.map((e: { path: string }) => e.path))], ['password'])
    }
    for (const password of ['12345678', 'y'.repeat(128)]) {
      const email = uniqueEmail()
      assert.equal((await register({ email, password })).status, 201)
      assert.equal((await t.call('POST', '/store/auth/login', { body: { email, password } })).status, 200)
    }
  })

  test('the country is an ISO 3166 alpha-2 code and sets the home region (EU/EEA -> eu, else us)', async () => {
    const cases: [string, string, string][] = [['de', 'DE', 'eu'], ['NO', 'NO', 'eu'], ['IS', 'IS', 'eu'], ['US', 'US', 'us'], ['JP', 'JP', 'us'], ['GB', 'GB', 'us'], ['CH', 'CH', 'us']]
    for (const [given, country, region] of cases) {
      const res = await register({ country: given })
      assert.equal(res.status, 201, given)
      assert.equal(res.body.customer.country, country)
      assert.equal(res.body.customer.region, region, given)
      const [row] = await t.platform.sql<{ country: string; region: string }[]>`select country, region from customers.customers where id = ${res.body.customer.id}`
      assert.deepEqual({ ...row }, { country, region })
    }
    for (const country of ['XX', 'ZZ', 'DEU', '1', '']) {
      const res = await register({ country })
      assert.equal(res.status, 400, country)
      assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ['country'])
    }
  })

  test('other bad input is a 400 naming the field, and creates nothing', async () => {
    const before = await t.platform.sql`select count(*)::int as n from customers.customers`
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-email' }, 'email'],
      [{ email: undefined }, 'email'],
      [{ name: '   ' }, 'name'],
      [{ name: undefined }, 'name'],
      [{ role: 'admin' }, 'role'],
    ]
    for (const [body, path] of cases) {
      const res = await register(body)
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.ok(res.body.errors.some((e: { path: string }) => e.path === path), JSON.stringify(res.body))
    }
    assert.deepEqual(await t.platform.sql`select count(*)::int as n from customers.customers`, before)
  })

  test('ADMIN_EMAIL makes an existing account admin only when its password is ADMIN_PASSWORD', async () => {
    const squatted = uniqueEmail()
    assert.equal((await register({ email: squatted, password: 'squatter-pass-1' })).status, 201)
    await t.api.modules.customers.ensureAdmin(squatted, 'operator-secret-1')
    const squatter = await t.call('POST', '/store/auth/login', { body: { email: squatted, password: 'squatter-pass-1' } })
    assert.equal(squatter.body.customer.role, 'customer', 'whoever registered the address first is not made admin')

    const own = uniqueEmail()
    assert.equal((await register({ email: own, password: 'operator-secret-1' })).status, 201)
    await t.api.modules.customers.ensureAdmin(own, 'operator-secret-1')
    const operator = await t.call('POST', '/store/auth/login', { body: { email: own, password: 'operator-secret-1' } })
    assert.equal(operator.body.customer.role, 'admin', 'an account with the admin password is the operator\'s')

    // An ADMIN_EMAIL written with capitals is the same address as sign-in's.
    const local = `Ops-${randomBytes(3).toString('hex')}`
    await t.api.modules.customers.ensureAdmin(`${local}@Shop.Test`, 'operator-secret-2')
    const capitals = await t.call('POST', '/store/auth/login', { body: { email: `${local}@shop.test`, password: 'operator-secret-2' } })
    assert.equal(capitals.status, 200)
    assert.equal(capitals.body.customer.role, 'admin')
  })

  test('a demoted admin loses the admin routes at once, with the session it has', async () => {
    const email = uniqueEmail()
    assert.equal((await register({ email })).status, 201)
    await t.platform.sql`update customers.customers set role = 'admin' where email = ${email}`
    const token = (await t.call('POST', '/store/auth/login', { body: { email, password: PASSWORD } })).body.token
    assert.equal((await t.call('GET', '/admin/orders', { token })).status, 200)
    await t.platform.sql`update customers.customers set role = 'customer' where email = ${email}`
    assert.equal((await t.call('GET', '/admin/orders', { token })).status, 403)
    assert.equal((await t.call('GET', '/store/customers/me', { token })).status, 200, 'still signed in, as a shopper')
  })

  test('an unknown e-mail and a wrong password get the same answer', async () => {
    const email = uniqueEmail()
    await register({ email })
    const wrong = await t.call('POST', '/store/auth/login', { body: { email, password: 'not the password' } })
    const unknown = await t.call('POST', '/store/auth/login', { body: { email: uniqueEmail(), password: 'not the password' } })
    assert.equal(wrong.status, 401)
    assert.deepEqual(wrong.body, unknown.body)
  })

  test('logout revokes the session at once, for bearer and cookie alike', async () => {
    const email = uniqueEmail()
    await register({ email })
    const first = (await t.call('POST', '/store/auth/login', { body: { email, password: PASSWORD } })).body.token
    const second = (await t.call('POST', '/store/auth/login', { body: { email, password: PASSWORD } })).body.token
    assert.notEqual(first, second)

    const out = await t.call('POST', '/store/auth/logout', { token: first })
    assert.equal(out.status, 204)
    assert.match(out.headers.get('set-cookie') ?? '', /^sid=;/, 'the cookie is cleared')
    assert.equal((await me({ authorization: `Bearer ${first}` })).status, 401)
    assert.equal((await me({ cookie: `sid=${first}` })).status, 401)
    assert.equal((await me({ authorization: `Bearer ${second}` })).status, 200, 'other sessions stay')

    assert.equal((await t.call('POST', '/store/auth/logout', { headers: { cookie: `sid=${second}` } })).status, 204)
    assert.equal((await me({ authorization: `Bearer ${second}` })).status, 401)
  })

  test('sessions are stored hashed with an expiry', async () => {
    const res = await register({})
    const { createHash } = await import('node:crypto')
    const key = `session:${createHash('sha256').update(res.body.token).digest('hex')}`
    const ttl = await t.platform.kv.ttl(key)
    assert.ok(ttl > 6 * 24 * 3600_000 && ttl <= 7 * 24 * 3600_000, `ttl ${ttl}`)
    assert.equal(await t.platform.kv.get(`session:${res.body.token}`), null)
  })

  test('/store/customers/me needs a session', async () => {
    assert.equal((await me({})).status, 401)
    assert.equal((await me({ authorization: 'Bearer made-up-token' })).status, 401)
  })
})
