import { test } from 'node:test'
import assert from 'node:assert/strict'
import { signatureHeader, verifySignature } from './signature.ts'

const SECRET = 'whsec-test-0123456789abcdef'
const BODY = JSON.stringify({ id: 'evt_1', type: 'payment.captured' })
const NOW = 1_800_000_000

test('a signature made with the secret over this body, now, is valid', () => {
  const header = signatureHeader(SECRET, BODY, NOW)
  assert.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/)
  assert.deepEqual(verifySignature(SECRET, header, BODY, { nowSeconds: NOW + 10 }), { ok: true, timestamp: NOW })
})

test('another body, another secret, or a changed timestamp does not match', () => {
  const header = signatureHeader(SECRET, BODY, NOW)
  const check = (secret: string, h: string, body: string) => verifySignature(secret, h, body, { nowSeconds: NOW })
  assert.deepEqual(check(SECRET, header, BODY.replace('captured', 'refunded')), { ok: false, reason: 'mismatch' })
  assert.deepEqual(check('another-secret-0123456789', header, BODY), { ok: false, reason: 'mismatch' })
  assert.deepEqual(check(SECRET, header.replace(`t=${NOW}`, `t=${NOW - 1}`), BODY), { ok: false, reason: 'mismatch' })
})

test('older or further ahead than 5 minutes is expired, even when the HMAC matches', () => {
  const header = signatureHeader(SECRET, BODY, NOW)
  assert.equal(verifySignature(SECRET, header, BODY, { nowSeconds: NOW + 300 }).ok, true)
  assert.deepEqual(verifySignature(SECRET, header, BODY, { nowSeconds: NOW + 301 }), { ok: false, reason: 'expired' })
  assert.deepEqual(verifySignature(SECRET, header, BODY, { nowSeconds: NOW - 301 }), { ok: false, reason: 'expired' })
})

test('missing or malformed headers are refused', () => {
  assert.deepEqual(verifySignature(SECRET, undefined, BODY), { ok: false, reason: 'missing' })
  for (const header of ['garbage', 't=abc,v1=00', `t=${NOW}`, `v1=${'a'.repeat(64)}`, `t=${NOW},v1=${'z'.repeat(64)}`]) {
    assert.deepEqual(verifySignature(SECRET, header, BODY, { nowSeconds: NOW }), { ok: false, reason: 'malformed' }, header)
  }
})

test('any of several v1 values may match (secret rotation)', () => {
  const good = signatureHeader(SECRET, BODY, NOW)
  const header = `t=${NOW},v1=${'0'.repeat(64)},${good.split(',')[1]}`
  assert.equal(verifySignature(SECRET, header, BODY, { nowSeconds: NOW }).ok, true)
})
