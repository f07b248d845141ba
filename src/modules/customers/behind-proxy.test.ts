// Behind a load balancer every request comes from the balancer's address. With the balancer
// trusted (TRUST_PROXY), sign-in throttling counts each shopper's own address and the session
// cookie is Secure when the shopper used HTTPS; with no proxy trusted, X-Forwarded-* is
// ignored, so rotating that header never buys a client more guesses.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import type { Config } from '../../config.ts'
import { startCustomersServer } from '../../../test/support/customers-server.ts'
import type { App } from '../../platform/http/server.ts'

const PASSWORD = 'correct horse battery'
const PER_IP = 3
const BALANCER = '127.0.0.1'

describe('behind a proxy', () => {
  let t: TestApp
  let trusting: App
  let trustingNobody: App

  const serverTrusting = (trustProxy: Config['trustProxy']) =>
    startCustomersServer(t, { loginLimits: { perAccount: 100, perIp: PER_IP, windowMs: 60_000 }, trustProxy })

  before(async () => {
    t = await startTestApp()
    trusting = await serverTrusting(['loopback'])
    trustingNobody = await serverTrusting(false)
  })
  after(async () => {
    await trusting.close()
    await trustingNobody.close()
    await t.close()
  })

  /**
   * A client address of its own per call, so that tests never share a throttle. Counted, not
   * random: two random picks out of 250 collided about once in a hundred runs, and a shopper
   * then inherited the guesser's spent budget (429).
   */
  let lastClient = 0
  const clientIp = () => `198.51.100.${++lastClient}`
  const login = async (app: App, email: string, password: string, headers: Record<string, string>, remoteAddress = BALANCER) => {
    const res = await app.inject({ method: 'POST', url: '/store/auth/login', payload: { email, password }, remoteAddress, headers })
    return { status: res.statusCode, cookie: String(res.headers['set-cookie'] ?? '') }
  }
  const nobody = () => `nobody-${randomBytes(4).toString('hex')}@shop.test`

  test('a trusted balancer: each shopper behind it has their own sign-in budget', async () => {
    const guesser = clientIp()
    const shopper = clientIp()
    for (let i = 0; i < PER_IP; i++) assert.equal((await login(trusting, nobody(), 'guess', { 'x-forwarded-for': guesser })).status, 401)
    assert.equal((await login(trusting, nobody(), 'guess', { 'x-forwarded-for': guesser })).status, 429, 'the guesser is stopped')
    assert.equal((await login(trusting, nobody(), 'guess', { 'x-forwarded-for': shopper })).status, 401, 'another shopper through the same balancer is not')
  })

  test('no proxy trusted: a forged X-Forwarded-For does not reset the budget', async () => {
    // All of these come from one socket address; only the forged header changes.
    const statuses = []
    for (let i = 0; i <= PER_IP; i++) statuses.push((await login(trustingNobody, nobody(), 'guess', { 'x-forwarded-for': clientIp() })).status)
    assert.deepEqual(statuses, [...Array(PER_IP).fill(401), 429])
  })

  test('the session cookie is Secure when the shopper reached the trusted balancer over HTTPS', async () => {
    const email = `proxy-${randomBytes(4).toString('hex')}@shop.test`
    const registered = await t.call('POST', '/store/auth/register', { body: { email, password: PASSWORD, name: 'P', country: 'US' } })
    assert.equal(registered.status, 201)
    const overHttps = { 'x-forwarded-proto': 'https', 'x-forwarded-for': clientIp() }
    const secure = await login(trusting, email, PASSWORD, overHttps)
    assert.equal(secure.status, 200)
    assert.match(secure.cookie, /;\s*Secure/i)
    assert.match(secure.cookie, /HttpOnly/i)
    // From another loopback address: the forged-header test used up 127.0.0.1's budget there.
    const untrusted = await login(trustingNobody, email, PASSWORD, overHttps, '127.0.0.2')
    assert.equal(untrusted.status, 200)
    assert.doesNotMatch(untrusted.cookie, /;\s*Secure/i, 'an untrusted header does not decide')
  })
})
