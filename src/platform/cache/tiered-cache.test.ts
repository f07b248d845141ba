// The cache's invalidation across processes: each "process" here is a TieredCache with its own
// KV connections (Redis when REDIS_URL is set, and always the in-process KV), sharing one store.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { TieredCache } from './tiered-cache.ts'
import { MemoryKv, RedisKv, type Kv } from '../kv/index.ts'
import { createLogger } from '../telemetry/log.ts'
import { createMetrics } from '../telemetry/metrics.ts'
import { dropInstanceKeys } from '../../../test/support/app.ts'

/** The system of record: a value per key, and a log of which loads ran. */
class Record {
  values = new Map<string, string>()
  loads = 0
  /** When set, the next load waits for this before reading. */
  gate: Promise<void> | null = null
  /** When set, loads fail (the database down). */
  down = false
  async load(key: string): Promise<string | null> {
    this.loads++
    if (this.down) throw new Error('connection refused')
    const gate = this.gate
    const value = this.values.get(key) ?? null // read before the gate: an old snapshot
    if (gate) await gate
    return value
  }
}

function makeCache(kv: Kv, record: Record, warnings: string[] = []) {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      warnings.push(String(chunk))
      done()
    },
  })
  return new TieredCache({
    name: 'things',
    kv,
    log: createLogger('warn', 'test', sink),
    metrics: createMetrics(false),
    load: (key) => record.load(key),
    lruTtlMs: 600_000, // only an invalidation can refresh an LRU copy
    ackTimeoutMs: 300,
  })
}

/** One shared store for a test: `connect` answers one process's view of it. */
interface World {
  connect(): Promise<Kv>
  close(): Promise<void>
}

function suite(name: string, makeWorld: () => World) {
  describe(`tiered cache across processes: ${name}`, () => {
    async function processes(n: number, record: Record) {
      const world = makeWorld()
      const kvs = await Promise.all(Array.from({ length: n }, () => world.connect()))
      const caches = kvs.map((kv) => makeCache(kv, record))
      await Promise.all(caches.map((cache) => cache.start()))
      const close = async () => {
        await Promise.all(caches.map((cache) => cache.stop()))
        await world.close()
      }
      return { caches, close }
    }

    test('invalidate answers only once every other process has dropped its copy', async () => {
      const record = new Record()
      const { caches, close } = await processes(3, record)
      try {
        const [a, b, c] = caches
        for (let round = 1; round <= 20; round++) {
          record.values.set('k', `v${round}`)
          await a!.invalidate('k')
          // No waiting: the next read in any process must already see the new value.
          assert.equal((await b!.get('k')).body, `v${round}`, `round ${round}, process b`)
          assert.equal((await c!.get('k')).body, `v${round}`, `round ${round}, process c`)
          assert.equal(b!.peek('k')?.body, `v${round}`, 'b serves the new value from its own LRU')
        }
      } finally {
        await close()
      }
    })

    test('a load that began before the update neither answers later readers nor refills the caches', async () => {
      const record = new Record()
      const { caches, close } = await processes(2, record)
      try {
        const [a, b] = caches
        record.values.set('k', 'old')
        let open!: () => void
        record.gate = new Promise((resolve) => (open = resolve))
        const early = b!.get('k') // reads 'old', then waits at the gate
        while (record.loads === 0) await new Promise((resolve) => setImmediate(resolve))
        record.gate = null
        record.values.set('k', 'new')
        await a!.invalidate('k')
        assert.equal((await b!.get('k')).body, 'new', 'a reader after the update does not join the old load')
        open()
        assert.equal((await early).body, 'old', 'the early reader gets what it asked for before the update')
        assert.equal(b!.peek('k')?.body, 'new', 'the old load did not overwrite the LRU')
        assert.equal((await a!.get('k')).body, 'new', 'nor the shared copy')
      } finally {
        await close()
      }
    })

    /** A cache in one process, and another process that hears its invalidations (onHeard) but never confirms them. */
    async function withSilentProcess(record: Record, use: (a: TieredCache, warnings: string[]) => Promise<void>, onHeard: () => void = () => {}) {
      const world = makeWorld()
      const kv = await world.connect()
      const silentKv = await world.connect()
      const warnings: string[] = []
      const a = makeCache(kv, record, warnings)
      await a.start()
      const stopSilent = await silentKv.subscribe('cache:things', onHeard)
      try {
        await use(a, warnings)
      } finally {
        await stopSilent()
        await a.stop()
        await world.close()
      }
    }

    test('a process that never confirms delays an invalidation by the timeout only, with a warning', async () => {
      const record = new Record()
      await withSilentProcess(record, async (a, warnings) => {
        record.values.set('k', 'one')
        assert.equal((await a.get('k')).body, 'one')
        record.values.set('k', 'two')
        await a.invalidate('k')
        assert.equal((await a.get('k')).body, 'two')
        assert.equal(warnings.length, 1, 'one warning for the unconfirmed invalidation')
        assert.match(warnings[0]!, /not every process confirmed/)
      })
    })

    test('invalidating many keys at once waits for a silent process once, not once per key', async () => {
      const record = new Record()
      // When the first wait for the silent process runs out, a cache that invalidated key by
      // key has sent one message; one that sends them together, all.
      let heard = 0
      await withSilentProcess(
        record,
        async (a, warnings) => {
          const heardAtFirstTimeout: number[] = []
          const sink = warnings.push.bind(warnings)
          warnings.push = (...lines: string[]) => {
            if (warnings.length === 0) heardAtFirstTimeout.push(heard)
            return sink(...lines)
          }
          const keys = Array.from({ length: 8 }, (_, i) => `k${i}`)
          for (const key of keys) record.values.set(key, 'one')
          for (const key of keys) await a.get(key)
          for (const key of keys) record.values.set(key, 'two')
          await a.invalidateAll([...keys, 'k0'])
          assert.deepEqual(heardAtFirstTimeout, [8], 'every key was announced before the first wait ran out')
          assert.equal(warnings.length, 8, 'each unconfirmed key is still said')
          for (const key of keys) assert.equal((await a.get(key)).body, 'two')
        },
        () => void heard++,
      )
    })
  })
}

/** One process's cache over the in-process KV, started for `use` and stopped after it. */
async function withOneCache(record: Record, use: (cache: TieredCache) => Promise<void>): Promise<void> {
  const kv = new MemoryKv()
  const cache = makeCache(kv, record)
  await cache.start()
  try {
    await use(cache)
  } finally {
    await cache.stop()
    await kv.close()
  }
}

test('a load that began before an invalidation stays uncached even after the cache forgot which keys it invalidated', async () => {
  const record = new Record()
  await withOneCache(record, async (cache) => {
    record.values.set('k', 'old')
    let open!: () => void
    record.gate = new Promise((resolve) => (open = resolve))
    const early = cache.get('k')
    while (record.loads === 0) await new Promise((resolve) => setImmediate(resolve))
    record.gate = null
    record.values.set('k', 'new')
    await cache.invalidate('k')
    // Enough other invalidations that the per-key memory is emptied (it is bounded).
    for (let i = 0; i <= 10_000; i++) await cache.invalidate(`other-${i}`)
    open()
    assert.equal((await early).body, 'old')
    assert.equal(cache.peek('k'), undefined, 'the old copy was not kept')
    assert.equal((await cache.get('k')).body, 'new')
  })
})

test('a record found gone drops its emergency copy: a later outage serves no deleted record', async () => {
  const record = new Record()
  await withOneCache(record, async (cache) => {
    record.values.set('k', 'kept')
    assert.equal((await cache.get('k')).body, 'kept')
    record.down = true
    await cache.invalidate('k')
    assert.deepEqual([(await cache.get('k')).body, (await cache.get('k')).source], ['kept', 'stale'], 'an outage serves the last copy')
    record.down = false
    record.values.delete('k')
    await cache.invalidate('k')
    assert.equal((await cache.get('k')).body, null, 'deleted')
    record.down = true
    await cache.invalidate('k')
    await assert.rejects(cache.get('k'), /unavailable/i, 'no copy of a deleted record comes back')
  })
})

// The in-process KV: every "process" shares one store, as the processes share Redis.
suite('in-process kv', () => {
  const kv = new MemoryKv()
  return { connect: async () => kv, close: () => kv.close() }
})

const redisUrl = process.env.REDIS_URL
if (redisUrl) {
  suite('redis', () => {
    const instance = `cachetest${randomBytes(4).toString('hex')}`
    const opened: RedisKv[] = []
    return {
      async connect() {
        const kv = new RedisKv(redisUrl, instance)
        opened.push(kv)
        await kv.connect()
        return kv
      },
      async close() {
        await Promise.all(opened.map((kv) => kv.close()))
        await dropInstanceKeys(instance)
      },
    }
  })
}
