import { EventEmitter } from 'node:events'
import type { HashIncrementOptions, HashIncrementResult, HashSubtractOptions, HashSubtractResult, Kv } from './types.ts'

type Entry = { value: string | Map<string, string>; expiresAt: number | null }

/** The embedded default's KV: one process, same contract as Redis. */
export class MemoryKv implements Kv {
  private readonly entries = new Map<string, Entry>()
  private readonly channels = new EventEmitter()
  private readonly sweeper: NodeJS.Timeout

  constructor() {
    this.channels.setMaxListeners(0)
    // Expired keys are dropped on access; the sweep keeps forgotten ones from piling up.
    this.sweeper = setInterval(() => this.sweep(), 60_000)
    this.sweeper.unref()
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry && entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  private sweep(): void {
    for (const key of this.entries.keys()) this.live(key)
  }

  private string(key: string): string | null {
    const entry = this.live(key)
    if (!entry) return null
    if (typeof entry.value !== 'string') throw new Error('WRONGTYPE key holds a hash')
    return entry.value
  }

  private hash(key: string, create: boolean): Map<string, string> | null {
    const entry = this.live(key)
    if (!entry) {
      if (!create) return null
      const map = new Map<string, string>()
      this.entries.set(key, { value: map, expiresAt: null })
      return map
    }
    if (typeof entry.value === 'string') throw new Error('WRONGTYPE key holds a string')
    return entry.value
  }

  async get(key: string) {
    return this.string(key)
  }

  async set(key: string, value: string, options: { ttlMs?: number; ifAbsent?: boolean } = {}) {
    if (options.ifAbsent && this.live(key)) return false
    this.entries.set(key, { value, expiresAt: options.ttlMs ? Date.now() + options.ttlMs : null })
    return true
  }

  async del(...keys: string[]) {
    let removed = 0
    for (const key of keys) if (this.live(key) && this.entries.delete(key)) removed++
    return removed
  }

  async incr(key: string, by = 1, ttlMs?: number) {
    const current = this.string(key)
    const next = (current === null ? 0 : Number(current)) + by
    if (current === null) {
      this.entries.set(key, { value: String(next), expiresAt: ttlMs ? Date.now() + ttlMs : null })
    } else {
      this.live(key)!.value = String(next)
    }
    return next
  }

  async expire(key: string, ttlMs: number) {
    const entry = this.live(key)
    if (!entry) return false
    entry.expiresAt = Date.now() + ttlMs
    return true
  }

  async ttl(key: string) {
    const entry = this.live(key)
    if (!entry) return -2
    return entry.expiresAt === null ? -1 : Math.max(0, entry.expiresAt - Date.now())
  }

  async hget(key: string, field: string) {
    return this.hash(key, false)?.get(field) ?? null
  }

  async hgetall(key: string) {
    return Object.fromEntries(this.hash(key, false) ?? [])
  }

  async hset(key: string, fields: Record<string, string>) {
    const map = this.hash(key, true)!
    for (const [field, value] of Object.entries(fields)) map.set(field, value)
  }

  async hincrby(key: string, field: string, by: number) {
    const map = this.hash(key, true)!
    const next = Number(map.get(field) ?? '0') + by
    map.set(field, String(next))
    return next
  }

  async hdel(key: string, ...fields: string[]) {
    return this.deleteFields(key, fields)
  }

  /** Synchronous, so the atomic operations below can use it without yielding. */
  private deleteFields(key: string, fields: string[]): number {
    const map = this.hash(key, false)
    if (!map) return 0
    let removed = 0
    for (const field of fields) if (map.delete(field)) removed++
    // Like Redis: a hash with no fields left does not exist.
    if (map.size === 0) this.entries.delete(key)
    return removed
  }

  async hlen(key: string) {
    return this.hash(key, false)?.size ?? 0
  }

  async hincrbyWithin(key: string, field: string, by: number, options: HashIncrementOptions): Promise<HashIncrementResult> {
    // One synchronous block: nothing else runs between the check and the write.
    const map = this.hash(key, false)
    const current = map?.get(field)
    const value = Number(current ?? '0')
    if (options.requires !== undefined && !this.live(options.requires)) return { applied: false, value, refused: 'gone' }
    if (options.unless !== undefined && this.live(options.unless)) return { applied: false, value, refused: 'held' }
    if (current === undefined && options.maxFields !== undefined && (map?.size ?? 0) >= options.maxFields) {
      return { applied: false, value, refused: 'fields' }
    }
    const next = value + by
    if (next < (options.min ?? -Infinity) || next > (options.max ?? Infinity)) return { applied: false, value, refused: 'range' }
    this.hash(key, true)!.set(field, String(next))
    if (options.alsoSet) {
      const other = this.hash(options.alsoSet.key, true)!
      for (const [name, text] of Object.entries(options.alsoSet.fields)) other.set(name, text)
    }
    if (options.ttlMs) {
      const expiresAt = Date.now() + options.ttlMs
      for (const renewed of [key, ...(options.renew ?? [])]) {
        const entry = this.live(renewed)
        if (entry) entry.expiresAt = expiresAt
      }
    }
    return { applied: true, value: next }
  }

  async hsubtractOrDelete(key: string, amounts: Record<string, number>, options: HashSubtractOptions = {}): Promise<HashSubtractResult> {
    // One synchronous block, like the Redis script: nothing runs between the check and the writes.
    if (Object.keys(amounts).length === 0) return 'applied'
    if (options.unless !== undefined && this.live(options.unless)) return 'held'
    if (options.once) {
      // A set as a hash of id -> '1' (this store's two types are strings and hashes).
      const applied = this.hash(options.once.key, true)!
      if (applied.has(options.once.id)) return 'done before'
      applied.set(options.once.id, '1')
      this.live(options.once.key)!.expiresAt = Date.now() + options.once.ttlMs
    }
    const map = this.hash(key, false)
    if (!map) return 'applied'
    for (const [field, amount] of Object.entries(amounts)) {
      const current = map.get(field)
      if (current === undefined) continue
      if (Number(current) <= amount) {
        this.deleteFields(key, [field])
        if (options.alsoDeleteFrom !== undefined && options.alsoDeleteFrom !== key) this.deleteFields(options.alsoDeleteFrom, [field])
      } else {
        map.set(field, String(Number(current) - amount))
      }
    }
    return 'applied'
  }

  async claim(key: string, holder: string, ttlMs: number, replacing?: string) {
    const held = this.string(key)
    if (held !== null && held !== holder && held !== replacing) return false
    this.entries.set(key, { value: holder, expiresAt: Date.now() + ttlMs })
    return true
  }

  async delIfEquals(key: string, value: string) {
    if (this.string(key) !== value) return false
    this.entries.delete(key)
    return true
  }

  async publish(channel: string, message: string) {
    // Delivered on a later tick, as over a network: a publisher never runs a handler inline.
    setImmediate(() => this.channels.emit(channel, message))
    return this.channels.listenerCount(channel)
  }

  async subscribe(channel: string, onMessage: (message: string) => void) {
    this.channels.on(channel, onMessage)
    return async () => {
      this.channels.off(channel, onMessage)
    }
  }

  async ping() {}

  async close() {
    clearInterval(this.sweeper)
    this.channels.removeAllListeners()
  }
}
