import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import { startCustomersServer } from '../../../test/support/customers-server.ts'
import type { App } from '../../platform/http/server.ts'
import { setHashingLimits } from './passwords.ts'
import { createLoginThrottle } from './login-throttle.ts'
import { MemoryKv } from '../../platform/kv/index.ts'

const PASSWORD = 'correct horse battery'
const WINDOW_MS = 60_000

// The customers module on its own server with small limits, over the test app's database and KV.
describe('sign-in throttling', () => {
  let t: TestApp
  let app: App

  before(async () => {
    t = await startTestApp()
    app = await startCustomersServer(t, { loginLimits: { perAccount: 3, perIp: 5, windowMs: WINDOW_MS } })
  })
  after(async () => {
    await app.close()
    await t.close()
  })

  const newAccount = async () => {
    const email = `th-${randomBytes(4).toString('hex')}@shop.test`
    const res = await t.call('POST', '/store/auth/register', { body: { email, password: PASSWORD, name: 'T', country: 'US' } })
    assert.equal(res.status, 201)
    return email
  }
  const login = async (email: string, password: string, ip = '203.0.113.1') => {
    const res = await app.inject({ method: 'POST', url: '/store/auth/login', payload: { email, password }, remoteAddress: ip })
    return { status: res.statusCode, headers: res.headers, body: res.json() }
  }

  test('an account is locked for the window after its limit of failures: 429 with Retry-After', async () => {
    const email = await newAccount()
    for (let i = 0; i < 3; i++) assert.equal((await login(email, 'wrong password', `198.51.100.${i}`)).status, 401)
    const locked = await login(email, PASSWORD, '198.51.100.99')
    assert.equal(locked.status, 429, 'even the right password, from another IP')
    assert.equal(locked.body.code, 'too_many_requests')
    assert.equal(locked.headers['content-type'], 'application/problem+json; charset=utf-8')
    const retryAfter = Number(locked.headers['retry-after'])
    assert.ok(retryAfter > 0 && retryAfter <= WINDOW_MS / 1000, `retry-after ${retryAfter}`)
    assert.equal(locked.body.retryAfter, retryAfter)
    assert.equal((await login(await newAccount(), PASSWORD, '198.51.100.98')).status, 200, 'other accounts are not affected')
  })

  test("a browser that signed in to the account before is not locked out by others' wrong passwords; it has a budget of its own", async () => {
    const email = await newAccount()
    const first = await app.inject({ method: 'POST', url: '/store/auth/login', payload: { email, password: PASSWORD }, remoteAddress: '192.0.2.70' })
    assert.equal(first.statusCode, 200)
    const cookie = first.cookies.find((c) => c.name === 'did')!
    assert.ok(cookie && cookie.value.length >= 32, 'a device token')
    assert.deepEqual([cookie.httpOnly, cookie.path, cookie.sameSite], [true, '/store/auth/login', 'Lax'])
    const fromDevice = (password: string, did = cookie.value) =>
      app.inject({ method: 'POST', url: '/store/auth/login', payload: { email, password }, remoteAddress: '192.0.2.71', cookies: { did } })
    // A stranger (no cookie, or another account's, or a made-up one) uses the account's budget up.
    for (let i = 0; i < 3; i++) assert.equal((await login(email, 'wrong password', `198.51.100.${40 + i}`)).status, 401)
    assert.equal((await login(email, PASSWORD, '198.51.100.49')).status, 429, 'locked for browsers it does not know')
    assert.equal((await fromDevice(PASSWORD, 'made-up-device-token-000000000000')).statusCode, 429)
    const known = await fromDevice(PASSWORD)
    assert.equal(known.statusCode, 200, 'its owner signs in from the browser it used before')
    assert.equal(known.cookies.find((c) => c.name === 'did')?.value, cookie.value, 'the same device, still known')
    // The device's own budget: wrong passwords from it lock only it.
    for (let i = 0; i < 3; i++) assert.equal((await fromDevice('wrong password')).statusCode, 401)
    assert.equal((await fromDevice(PASSWORD)).statusCode, 429)
  })

  test('registrations from one address are limited like its sign-ins: 429 with Retry-After past the limit; other addresses go on', async () => {
    const registerFrom = (ip: string) =>
      app.inject({ method: 'POST', url: '/store/auth/register', payload: { email: `rg-${randomBytes(4).toString('hex')}@shop.test`, password: PASSWORD, name: 'R', country: 'US' }, remoteAddress: ip })
    for (let i = 0; i < 5; i++) assert.equal((await registerFrom('203.0.113.80')).statusCode, 201)
    const refused = await registerFrom('203.0.113.80')
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.json().code, 'too_many_requests')
    assert.ok(Number(refused.headers['retry-after']) > 0)
    assert.equal((await registerFrom('203.0.113.81')).statusCode, 201)
  })

  test('a success before the limit starts the account afresh', async () => {
    const email = await newAccount()
    const ip = '192.0.2.10'
    for (let i = 0; i < 2; i++) assert.equal((await login(email, 'wrong password', ip)).status, 401)
    assert.equal((await login(email, PASSWORD, ip)).status, 200)
    for (let i = 0; i < 2; i++) assert.equal((await login(email, 'wrong password', ip)).status, 401)
    assert.equal((await login(email, PASSWORD, ip)).status, 200)
  })

  test('an IP guessing across many accounts is stopped at its limit; other IPs are not', async () => {
    const ip = '203.0.113.50'
    for (let i = 0; i < 5; i++) assert.equal((await login(`nobody-${i}@shop.test`, 'guess', ip)).status, 401)
    const blocked = await login(await newAccount(), PASSWORD, ip)
    assert.equal(blocked.status, 429)
    assert.ok(Number(blocked.headers['retry-after']) > 0)
    assert.equal((await login(`nobody-0@shop.test`, 'guess', '203.0.113.51')).status, 401)
    // Refused for its IP, an attempt does not count against the account it names.
    const victim = await newAccount()
    for (let i = 0; i < 5; i++) assert.equal((await login(victim, 'guess', ip)).status, 429)
    assert.equal((await login(victim, PASSWORD, '203.0.113.52')).status, 200, 'the shopper signs in from elsewhere')
  })

  test('only wrong passwords use up an IP: attempts refused for their account, or told to come back, are given back', async () => {
    // A locked account, tried again and again from one address (a shopper retrying, a
    // script): refused for the account, nothing is checked, and the address is not charged.
    const locked = await newAccount()
    for (let i = 0; i < 3; i++) assert.equal((await login(locked, 'wrong password', `198.18.0.${i}`)).status, 401)
    const ip = '198.18.1.1'
    for (let i = 0; i < 6; i++) assert.equal((await login(locked, PASSWORD, ip)).status, 429)
    assert.equal((await login(await newAccount(), PASSWORD, ip)).status, 200, 'another shopper behind the same address signs in')

    // Shoppers behind one address signing in at once with the right passwords, while the
    // hashing queue is full: the ones told to come back (503) have guessed nothing.
    const office = '198.18.2.2'
    const accounts = await Promise.all(Array.from({ length: 5 }, () => newAccount()))
    setHashingLimits({ concurrent: 1, queue: 1 })
    let answers
    try {
      answers = await Promise.all(accounts.map((email) => login(email, PASSWORD, office)))
    } finally {
      setHashingLimits({ concurrent: os.availableParallelism(), queue: 32 })
    }
    assert.ok(answers.some((a) => a.status === 503), `some told to come back: ${answers.map((a) => a.status)}`)
    assert.deepEqual(answers.filter((a) => a.status !== 503).map((a) => a.status), answers.filter((a) => a.status === 200).map(() => 200))
    // The address has its whole window of guesses left (5).
    for (let i = 0; i < 5; i++) assert.equal((await login(`nobody-office-${i}@shop.test`, 'guess', office)).status, 401, `guess ${i}`)
    assert.equal((await login(`nobody-office-5@shop.test`, 'guess', office)).status, 429)
  })

  test('a burst of parallel guesses cannot slip past the limit', async () => {
    const email = await newAccount()
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => login(email, 'wrong password', `100.64.0.${i}`)))
    assert.equal(answers.filter((a) => a.status === 401).length, 3)
    assert.equal(answers.filter((a) => a.status === 429).length, 7)
  })

  test('unknown e-mails count like known ones (no hint that an account exists)', async () => {
    const ghost = `ghost-${randomBytes(4).toString('hex')}@shop.test`
    for (let i = 0; i < 3; i++) assert.equal((await login(ghost, 'x', `10.9.0.${i}`)).status, 401)
    assert.equal((await login(ghost, 'x', '10.9.0.9')).status, 429)
  })

  test('the counters live in the KV with the window as their life', async () => {
    const email = await newAccount()
    await login(email, 'wrong password', '172.16.5.5')
    const ttl = await t.platform.kv.ttl('login-fail:ip:172.16.5.5')
    assert.ok(ttl > 0 && ttl <= WINDOW_MS, `ttl ${ttl}`)
  })
})

test('one account signed in to in a loop, with the right password, is stopped at its limit (each sign-in hashes a password); other accounts are not', async () => {
  const t = await startTestApp()
  const app = await startCustomersServer(t, { loginLimits: { perAccount: 100, perIp: 100, signInsPerAccount: 4, windowMs: WINDOW_MS } })
  try {
    const account = async () => {
      const email = `loop-${randomBytes(4).toString('hex')}@shop.test`
      assert.equal((await t.call('POST', '/store/auth/register', { body: { email, password: PASSWORD, name: 'L', country: 'US' } })).status, 201)
      return email
    }
    const login = (email: string) => app.inject({ method: 'POST', url: '/store/auth/login', payload: { email, password: PASSWORD }, remoteAddress: '203.0.113.60' })
    const email = await account()
    const statuses = (await Promise.all(Array.from({ length: 7 }, () => login(email)))).map((res) => res.statusCode).sort()
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429, 429], 'exactly the limit, racing too')
    const refused = await login(email)
    assert.equal(refused.statusCode, 429)
    assert.ok(Number(refused.headers['retry-after']) > 0)
    assert.equal((await login(await account())).statusCode, 200, 'another account from the same address signs in')

    // Strangers using the cap up do not lock the owner out of the browser it signed in from.
    const owned = await account()
    const first = await app.inject({ method: 'POST', url: '/store/auth/login', payload: { email: owned, password: PASSWORD }, remoteAddress: '192.0.2.80' })
    assert.equal(first.statusCode, 200)
    const did = first.cookies.find((c) => c.name === 'did')!.value
    const stranger = () => app.inject({ method: 'POST', url: '/store/auth/login', payload: { email: owned, password: 'wrong password' }, remoteAddress: '198.51.100.80' })
    const strangers = []
    for (let i = 0; i < 6; i++) strangers.push((await stranger()).statusCode)
    assert.deepEqual(strangers.slice(-2), [429, 429], `strangers are stopped: ${strangers}`)
    const owner = await app.inject({ method: 'POST', url: '/store/auth/login', payload: { email: owned, password: PASSWORD }, remoteAddress: '192.0.2.80', cookies: { did } })
    assert.equal(owner.statusCode, 200, 'the owner, from its browser, signs in')
  } finally {
    await app.close()
    await t.close()
  }
})

test("an attempt given back after its window ended is not carried into the next window (no counter below zero, no extra guesses)", async () => {
  const kv = new MemoryKv()
  const throttle = createLoginThrottle(kv, { perAccount: 100, perIp: 3, signInsPerAccount: 100, windowMs: WINDOW_MS })
  try {
    const budgets = await Promise.all(Array.from({ length: 3 }, (_, i) => throttle.begin(`edge-${i}@shop.test`, '203.0.113.90')))
    // The window ends while those sign-ins hash their passwords; then they succeed.
    await kv.del('login-fail:ip:203.0.113.90')
    await Promise.all(budgets.map((budget, i) => throttle.succeeded(`edge-${i}@shop.test`, '203.0.113.90', budget)))
    const left = Number((await kv.get('login-fail:ip:203.0.113.90')) ?? 0)
    assert.ok(left >= 0, `the new window's count: ${left}`)
    let allowed = 0
    for (let i = 0; i < 6; i++) {
      const ok = await throttle.begin(`guess-${i}@shop.test`, '203.0.113.90').then(() => true, () => false)
      if (ok) allowed++
    }
    assert.ok(allowed <= 3, `${allowed} guesses let through in a window of 3`)
  } finally {
    await kv.close()
  }
})
