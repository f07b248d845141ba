import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'

const PASSWORD = 'Sup3r-Secret-Passw0rd!'

describe('no password or session token reaches the log', () => {
  let t: TestApp
  const lines: string[] = []

  before(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'trace' }, logStream: { write: (line: string) => void lines.push(line) } })
  })
  after(() => t.close())

  test('across register, sign-in (right, wrong, throttled), session use, carts and logout', async () => {
    const email = 'logged@shop.test'
    const registered = await t.call('POST', '/store/auth/register', {
      body: { email, password: PASSWORD, name: 'Log Tester', country: 'SE' },
      headers: { 'x-request-id': 'register-trace-1' },
    })
    assert.equal(registered.status, 201)
    const login = await t.call('POST', '/store/auth/login', { body: { email, password: PASSWORD } })
    const tokens = [registered.body.token as string, login.body.token as string]

    await t.call('POST', '/store/auth/register', { body: { email, password: PASSWORD, name: 'Again', country: 'SE' } }) // 409
    await t.call('POST', '/store/auth/register', { body: { email: 'short@shop.test', password: PASSWORD.slice(0, 7), name: 'S', country: 'SE' } }) // 400
    for (let i = 0; i < 11; i++) await t.call('POST', '/store/auth/login', { body: { email, password: `${PASSWORD}-wrong` } }) // 401s, then 429
    await t.call('GET', '/store/customers/me', { token: tokens[0] })
    await t.call('GET', '/store/customers/me', { headers: { cookie: `sid=${tokens[1]}` } })
    await t.call('GET', '/store/customers/me/cart', { token: tokens[0] })
    await t.call('POST', '/store/auth/logout', { token: tokens[0] })
    await t.call('GET', '/store/customers/me', { token: tokens[0] }) // 401 after logout

    const log = lines.join('')
    const registeredLine = lines.find((line) => line.includes('customer registered'))
    assert.ok(registeredLine, 'the log was captured')
    assert.equal(JSON.parse(registeredLine).reqId, 'register-trace-1', "a request's lines carry its id")
    assert.match(log, /sign-in throttled/)
    assert.ok(!log.includes(PASSWORD.slice(0, 7)), 'no password (nor a prefix of one)')
    for (const token of tokens) {
      assert.ok(!log.includes(token), 'no session token')
      assert.ok(!log.includes(token.slice(0, 16)), 'not even part of one')
    }
  })
})
