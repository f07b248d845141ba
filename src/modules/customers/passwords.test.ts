import { describe, mock, test } from 'node:test'
import assert from 'node:assert/strict'
import argon2 from 'argon2'
import { hashPassword, verifyPassword } from './passwords.ts'

// Sign-in must not tell an unknown e-mail from a wrong password by its time. Timings are not
// asserted (tests never fail on a timing); what makes the two equal is that both paths run
// one full argon2id verification, and that is what these tests hold.
describe('password hashing', () => {
  test('hashes are argon2id with a per-hash salt, and verify only the right password', async () => {
    const [first, second] = await Promise.all([hashPassword('correct horse battery'), hashPassword('correct horse battery')])
    assert.match(first, /^\$argon2id\$v=19\$m=65536,p=4,t=3\$/)
    assert.notEqual(first, second, 'a fresh salt each time')
    assert.equal(await verifyPassword(first, 'correct horse battery'), true)
    assert.equal(await verifyPassword(first, 'correct horse batterY'), false)
    assert.equal(await verifyPassword('not a hash', 'correct horse battery'), false, 'a damaged hash refuses, never throws')
  })

  test('an unknown account (no stored hash) still costs one argon2id verification', async (t) => {
    const verify = t.mock.method(argon2, 'verify')
    assert.equal(await verifyPassword(null, 'whatever it is'), false)
    assert.equal(await verifyPassword(null, 'not-a-real-password-'), false, 'the dummy is never a password anyone can give')
    assert.equal(verify.mock.callCount(), 2)
    for (const call of verify.mock.calls) assert.match(call.arguments[0] as string, /^\$argon2id\$v=19\$m=65536,p=4,t=3\$/)

    const known = await hashPassword('correct horse battery')
    await verifyPassword(known, 'wrong password')
    assert.equal(verify.mock.callCount(), 3, 'a wrong password costs the same one verification')
    mock.restoreAll()
  })
})
