// Redis refusing commands for now (out of memory under noeviction, a read-only replica) is an
// outage of the KV, as a Redis that does not answer is: KvUnavailable (the API answers 503
// with Retry-After), not an error of ours (500). On a Redis of the test's own, since the
// shared one must not be filled or made a replica.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { ReplyError } from 'ioredis'
import { KvUnavailable } from './index.ts'
import { RedisKv } from './redis.ts'
import { freePort } from '../../../test/support/processes.ts'

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
const skip = !process.env.REDIS_URL ? 'REDIS_URL is not set (CI sets it)' : !hasRedisServer ? 'no redis-server binary to start a Redis of its own' : false

let server: ChildProcess | null = null
let kv: RedisKv
let admin: RedisKv

before(async () => {
  if (skip) return
  const port = await freePort()
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; !(await accepts(port)); i++) {
    if (i > 50) throw new Error(`redis-server did not start on ${port}`)
    await sleep(100)
  }
  admin = new RedisKv(url, 'admin')
  await admin.connect()
  kv = new RedisKv(url, 'refusals')
  await kv.connect()
})
after(async () => {
  await kv?.close()
  await admin?.close()
  server?.kill('SIGKILL')
})

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })

/** Sends a raw command to the test's own server (CONFIG, REPLICAOF). */
const command = (...args: string[]) => (admin as unknown as { redis: { call(...a: string[]): Promise<unknown> } }).redis.call(...args)

test('out of memory under noeviction: writes fail as KvUnavailable (503), reads go on', { skip }, async () => {
  await kv.set('before', 'v')
  await command('config', 'set', 'maxmemory-policy', 'noeviction')
  await command('config', 'set', 'maxmemory', '1')
  try {
    await assert.rejects(kv.set('k', 'v'), KvUnavailable)
    await assert.rejects(kv.incr('counter', 1, 60_000), KvUnavailable, 'a MULTI refused for memory (EXECABORT)')
    await assert.rejects(kv.hincrbyWithin('h', 'f', 1, { max: 5 }), KvUnavailable, 'a script refused for memory')
    assert.equal(await kv.get('before'), 'v')
  } finally {
    await command('config', 'set', 'maxmemory', '0')
  }
  assert.equal(await kv.set('k', 'v'), true, 'writes again once there is room')
})

test('a read-only replica: writes fail as KvUnavailable (503)', { skip }, async () => {
  // A master that does not exist: the server turns replica, read-only, at once.
  await command('replicaof', '127.0.0.1', String(await freePort()))
  try {
    await assert.rejects(kv.set('k2', 'v'), KvUnavailable)
  } finally {
    await command('replicaof', 'no', 'one')
  }
  assert.equal(await kv.set('k2', 'v'), true)
})

test('a command Redis refuses as wrong stays an error of ours (not an outage)', { skip }, async () => {
  await kv.set('a-string', 'v')
  await assert.rejects(kv.hincrby('a-string', 'f', 1), (error: unknown) => error instanceof ReplyError && /WRONGTYPE/.test((error as Error).message))
})
