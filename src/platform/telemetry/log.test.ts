import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { createLogger, throttledWarn } from './log.ts'

function capture() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { log: createLogger('info', 'test', stream), lines }
}

test('a throttled warning is logged once per interval, with how many were left out', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const { log, lines } = capture()
  const warn = throttledWarn(log, 'redis away', 10_000)
  warn({ attempt: 1 })
  warn({ attempt: 2 })
  warn({ attempt: 3 })
  t.mock.timers.tick(9_999)
  warn({ attempt: 4 })
  assert.deepEqual(lines.map((l) => [l.msg, l.attempt, l.suppressed]), [['redis away', 1, undefined]])
  t.mock.timers.tick(1)
  warn({ attempt: 5 })
  assert.deepEqual(lines.map((l) => [l.msg, l.attempt, l.suppressed]), [['redis away', 1, undefined], ['redis away', 5, 3]])
  t.mock.timers.tick(10_000)
  warn({ attempt: 6 })
  assert.equal(lines[2].suppressed, undefined, 'the count starts again after each line')
})

test('passwords, tokens, cards, CVCs, secrets and order tokens are redacted at the top level and one level down', () => {
  let written = ''
  const sink = new Writable({ write: (chunk, _encoding, done) => ((written += chunk), done()) })
  const log = createLogger('info', 'redaction-test', sink as never)
  log.info(
    {
      password: 'pw-top', token: 'tok-top', accessToken: 'at-top', cvc: '9871', secret: 'sec-top',
      body: { password: 'pw-nested', card: { number: '4242424242424242' }, cvc: '9872' },
      order: { accessToken: 'at-nested', cartId: 'cart-nested-capability' },
      cartId: 'cart-top-capability',
      gateway: { secret: 'sec-nested' },
      headers: { authorization: 'Bearer auth-h', cookie: 'sid=cookie-h', 'x-order-token': 'xot-h' },
      kept: 'visible',
    },
    'something happened',
  )
  for (const secret of ['pw-top', 'tok-top', 'at-top', '9871', 'sec-top', 'pw-nested', '4242424242424242', '9872', 'at-nested', 'sec-nested', 'auth-h', 'cookie-h', 'xot-h', 'cart-top-capability', 'cart-nested-capability']) {
    assert.ok(!written.includes(secret), `${secret} in ${written}`)
  }
  assert.match(written, /"kept":"visible"/)
})
