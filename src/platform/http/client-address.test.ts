import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientOf } from './client-address.ts'

test('an IPv6 client is its /64; IPv4, also written as IPv6, is its address', () => {
  assert.equal(clientOf('203.0.113.7'), '203.0.113.7')
  assert.equal(clientOf('::ffff:203.0.113.7'), '203.0.113.7')
  assert.equal(clientOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  assert.equal(clientOf('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'another address of the same network')
  assert.equal(clientOf('2001:0db8:0001:0002:0:0:0:ffff'), '2001:db8:1:2::/64', 'leading zeros or not')
  assert.equal(clientOf('2001:db8::1'), '2001:db8:0:0::/64')
  assert.equal(clientOf('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the next network is another client')
  assert.equal(clientOf('::1'), '0:0:0:0::/64')
  assert.equal(clientOf('fe80::1%eth0'), 'fe80:0:0:0::/64')
  assert.equal(clientOf('unknown'), 'unknown')
})
