// Liveness: a process is alive while its key is renewed, and dead once it stops or its
// last beat runs out. Checked on the embedded KV; the Redis adapter keeps the same
// set-with-expiry contract (kv.contract.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryKv } from './kv/memory.ts'
import { startLiveness } from './liveness.ts'
import { createLogger } from './telemetry/log.ts'

test('another process is alive while it beats, and dead once it stops or its last beat runs out', async () => {
  const kv = new MemoryKv()
  const log = createLogger('silent')
  const observer = await startLiveness(kv, log)
  const beating = await startLiveness(kv, log, { ttlMs: 1_000, everyMs: 50 })
  const stalled = await startLiveness(kv, log, { ttlMs: 1_000, everyMs: 60_000 })
  assert.notEqual(beating.id, stalled.id)
  assert.equal(await observer.isAlive(beating.id), true)
  assert.equal(await observer.isAlive(stalled.id), true, 'the first beat is written before start answers')

  await sleep(1_300)
  assert.equal(await observer.isAlive(beating.id), true, 'renewed')
  assert.equal(await observer.isAlive(stalled.id), false, 'its last beat ran out (a frozen or killed process)')
  assert.equal(await observer.isAlive('never-started'), false)

  await beating.stop()
  assert.equal(await observer.isAlive(beating.id), false, 'stopped on purpose')
  await Promise.all([stalled.stop(), observer.stop(), kv.close()])
})

test('a KV that cannot be asked answers alive: unsure waits for the timeout instead of taking over', async () => {
  const kv = new MemoryKv()
  const liveness = await startLiveness(kv, createLogger('silent'))
  kv.get = async () => {
    throw new Error('Redis is unavailable')
  }
  assert.equal(await liveness.isAlive('some-other-process'), true)
  await Promise.all([liveness.stop(), kv.close()])
})
