import { Redis, ReplyError } from 'ioredis'
import { KvUnavailable, type HashIncrementOptions, type HashIncrementResult, type HashSubtractOptions, type HashSubtractResult, type Kv } from './types.ts'

// KEYS[1] hash, KEYS[2] the hash that alsoSet writes (KEYS[1] again when none), KEYS[3] the
// key that must exist (KEYS[1] again when none), KEYS[4] the key that must not (KEYS[1]
// again when none), KEYS[5..] more keys to renew; ARGV field,
// by, min, max, maxFields (-1: any), ttlMs (0: keep), then the alsoSet field/value pairs. Answers {applied 0|1, value, refusal}. One script, so the check
// and every write are atomic: a refused change writes nothing, an applied one all of it.
const HINCRBY_WITHIN = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local value = tonumber(current or '0')
if KEYS[3] ~= KEYS[1] and redis.call('EXISTS', KEYS[3]) == 0 then
  return {0, value, 'gone'}
end
if KEYS[4] ~= KEYS[1] and redis.call('EXISTS', KEYS[4]) == 1 then
  return {0, value, 'held'}
end
local maxFields = tonumber(ARGV[5])
if not current and maxFields >= 0 and redis.call('HLEN', KEYS[1]) >= maxFields then
  return {0, value, 'fields'}
end
local nextValue = value + tonumber(ARGV[2])
if nextValue < tonumber(ARGV[3]) or nextValue > tonumber(ARGV[4]) then
  return {0, value, 'range'}
end
nextValue = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if #ARGV > 6 then redis.call('HSET', KEYS[2], unpack(ARGV, 7)) end
if tonumber(ARGV[6]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  for i = 5, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
end
return {1, nextValue, ''}`

// KEYS[1] hash, KEYS[2] the hash whose fields go with KEYS[1]'s (KEYS[1] again when none),
// KEYS[3] the key that must not exist (KEYS[1] again when none), KEYS[4] the set of ids
// already applied (optional); ARGV id ('' when none), its set's ttl in ms, then field,
// amount pairs. Answers 1 applied, 0 done before, -1 held.
const HSUBTRACT_OR_DELETE = `
if KEYS[3] ~= KEYS[1] and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
if #KEYS > 3 then
  if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
end
for i = 3, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current then
    if tonumber(current) <= tonumber(ARGV[i + 1]) then
      redis.call('HDEL', KEYS[1], ARGV[i])
      if KEYS[2] ~= KEYS[1] then redis.call('HDEL', KEYS[2], ARGV[i]) end
    else
      redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1]))
    end
  end
end
return 1`

const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] and held ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

const DEL_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

type HincrbyWithinCommand = (keyCount: number, ...keysThenArgs: (string | number)[]) => Promise<[number, number, string]>

export interface RedisKvOptions {
  /** Connection errors (ioredis keeps reconnecting meanwhile); without a listener ioredis prints them itself. */
  onError?: (error: Error) => void
  /** A command unanswered this long fails (default 2,000 ms). */
  commandTimeoutMs?: number
  /** After a command timed out, commands fail at once for this long (default 1,000 ms); then one probes. */
  pauseAfterTimeoutMs?: number
}

// ioredis rejects a command past commandTimeout with this message (no code or class).
const TIMED_OUT = 'Command timed out'

/**
 * Refusals that say Redis cannot take a command now, not that the command is wrong: out of
 * memory under noeviction (the README's setting), a replica's read-only, a server still
 * loading its data, a cluster or a master away, a script running too long. Passed on as
 * they were, a full Redis answered every cart write 500 (an error of ours) instead of 503
 * with Retry-After. A transaction (MULTI) refused for one of them fails as EXECABORT,
 * carrying the refusals it is made of.
 */
const UNAVAILABLE_NOW = /^(OOM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS|MISCONF)\b/

function unavailableNow(error: Error & { previousErrors?: Error[] }): boolean {
  if (UNAVAILABLE_NOW.test(error.message)) return true
  return /^EXECABORT\b/.test(error.message) && (error.previousErrors ?? []).some((previous) => UNAVAILABLE_NOW.test(previous.message))
}

/**
 * How long a shutdown waits for Redis to answer its goodbyes (UNSUBSCRIBE, QUIT) before
 * dropping the connection: a Redis that hung (not down: the socket open, nothing answered)
 * held every shutdown for its whole 15 s, which then exited 1.
 */
const GOODBYE_TIMEOUT_MS = 1000

/** Whether `promise` settled (either way) within `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true, () => true), timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Redis behind the Kv contract. Every key is prefixed with `${instance}:` (ioredis
 * keyPrefix) so deployments and test runs can share one server. Pub/sub needs its own
 * connection, opened on the first subscribe.
 */
export class RedisKv implements Kv {
  private readonly redis: Redis
  private subscriber: Redis | null = null
  private readonly handlers = new Map<string, Set<(message: string) => void>>()

  /** Commands fail at once until then (a command timed out: Redis hangs or the network does). */
  private pausedUntil = 0
  /** After a pause, one command at a time finds out whether Redis answers again. */
  private probing = false
  private readonly pauseMs: number

  constructor(private readonly url: string, private readonly instance: string, private readonly options: RedisKvOptions = {}) {
    this.pauseMs = options.pauseAfterTimeoutMs ?? 1000
    this.redis = new Redis(url, {
      keyPrefix: `${instance}:`,
      connectTimeout: 5000,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 2,
      // While the connection is down, a command fails at once instead of waiting in a queue
      // for a reconnect: a cache read falls through to PostgreSQL now, and a cart write
      // answers 503 now, rather than each holding its request for seconds.
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
    })
    this.redis.on('error', (error: Error) => options.onError?.(error))
    // defineCommand runs the script by its SHA (EVALSHA) and prefixes KEYS like any key.
    this.redis.defineCommand('hincrbyWithin', { lua: HINCRBY_WITHIN })
    this.redis.defineCommand('hsubtractOrDelete', { lua: HSUBTRACT_OR_DELETE })
    this.redis.defineCommand('claim', { numberOfKeys: 1, lua: CLAIM })
    this.redis.defineCommand('delIfEquals', { numberOfKeys: 1, lua: DEL_IF_EQUALS })
  }

  /**
   * Runs one command. A refusal by Redis (ReplyError) is passed on as it is, unless it says
   * Redis cannot take it now (out of memory, read-only, loading: unavailableNow); that and
   * anything else means Redis could not be asked or did not answer: KvUnavailable. A timeout pauses all
   * commands for pauseMs (failing at once, sending nothing), after which one command at a
   * time probes until one is answered. A hanging Redis then costs one timeout per pause,
   * not one per command. Hand-written, not the platform's opossum breaker: this runs on
   * every cache and cart command, and needs no rolling statistics, only "did it time out".
   */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    const paused = this.pausedUntil > 0
    if (paused && (Date.now() < this.pausedUntil || this.probing)) throw new KvUnavailable('Redis did not answer in time; commands are paused for a moment')
    if (paused) this.probing = true
    try {
      const answer = await command()
      if (paused) this.pausedUntil = 0
      return answer
    } catch (error) {
      if (error instanceof ReplyError) {
        if (paused) this.pausedUntil = 0
        const refusal = error as Error & { previousErrors?: Error[] }
        if (unavailableNow(refusal)) throw new KvUnavailable(`Redis refused the command for now: ${refusal.message}`, { cause: error })
        throw error
      }
      const message = (error as Error).message
      if (message === TIMED_OUT) this.pausedUntil = Date.now() + this.pauseMs
      else if (paused) this.pausedUntil = 0
      throw new KvUnavailable(`Redis is unavailable: ${message}`, { cause: error })
    } finally {
      if (paused) this.probing = false
    }
  }

  async connect(): Promise<void> {
    await this.redis.connect()
  }

  private channel(name: string): string {
    return `${this.instance}:${name}`
  }

  async get(key: string) {
    return this.run(() => this.redis.get(key))
  }

  async set(key: string, value: string, options: { ttlMs?: number; ifAbsent?: boolean } = {}) {
    const args: (string | number)[] = []
    if (options.ttlMs) args.push('PX', Math.max(1, Math.round(options.ttlMs)))
    if (options.ifAbsent) args.push('NX')
    const answer = await this.run(() => (this.redis.set as unknown as (...a: (string | number)[]) => Promise<string | null>)(key, value, ...args))
    return answer === 'OK'
  }

  async del(...keys: string[]) {
    return keys.length === 0 ? 0 : this.run(() => this.redis.del(...keys))
  }

  async incr(key: string, by = 1, ttlMs?: number) {
    if (!ttlMs) return this.run(() => this.redis.incrby(key, by))
    // One round trip; the expiry is set only when the counter is new (NX), as the contract says.
    const [[, value]] = (await this.run(() => this.redis.multi().incrby(key, by).pexpire(key, ttlMs, 'NX').exec())) as [[null, number]]
    return value
  }

  async expire(key: string, ttlMs: number) {
    return (await this.run(() => this.redis.pexpire(key, Math.max(1, Math.round(ttlMs))))) === 1
  }

  async ttl(key: string) {
    return this.run(() => this.redis.pttl(key))
  }

  async hget(key: string, field: string) {
    return this.run(() => this.redis.hget(key, field))
  }

  async hgetall(key: string) {
    return this.run(() => this.redis.hgetall(key))
  }

  async hset(key: string, fields: Record<string, string>) {
    await this.run(() => this.redis.hset(key, fields))
  }

  async hincrby(key: string, field: string, by: number) {
    return this.run(() => this.redis.hincrby(key, field, by))
  }

  async hdel(key: string, ...fields: string[]) {
    return fields.length === 0 ? 0 : this.run(() => this.redis.hdel(key, ...fields))
  }

  async hlen(key: string) {
    return this.run(() => this.redis.hlen(key))
  }

  async hincrbyWithin(key: string, field: string, by: number, options: HashIncrementOptions): Promise<HashIncrementResult> {
    const run = (this.redis as unknown as { hincrbyWithin: HincrbyWithinCommand }).hincrbyWithin.bind(this.redis)
    const keys = [key, options.alsoSet?.key ?? key, options.requires ?? key, options.unless ?? key, ...(options.renew ?? [])]
    const [applied, value, refused] = await this.run(() => run(
      keys.length,
      ...keys,
      field,
      by,
      options.min ?? Number.MIN_SAFE_INTEGER,
      options.max ?? Number.MAX_SAFE_INTEGER,
      options.maxFields ?? -1,
      options.ttlMs ? Math.max(1, Math.round(options.ttlMs)) : 0,
      ...Object.entries(options.alsoSet?.fields ?? {}).flat(),
    ))
    return applied === 1 ? { applied: true, value } : { applied: false, value, refused: refused as 'range' | 'fields' | 'gone' | 'held' }
  }

  async hsubtractOrDelete(key: string, amounts: Record<string, number>, options: HashSubtractOptions = {}) {
    const pairs = Object.entries(amounts).flat()
    if (pairs.length === 0) return 'applied'
    const run = (this.redis as unknown as { hsubtractOrDelete: (keyCount: number, ...keysThenArgs: (string | number)[]) => Promise<number> }).hsubtractOrDelete.bind(this.redis)
    const keys = [key, options.alsoDeleteFrom ?? key, options.unless ?? key, ...(options.once ? [options.once.key] : [])]
    const once = options.once ? [options.once.id, Math.max(1, Math.round(options.once.ttlMs))] : ['', 0]
    const answer = await this.run(() => run(keys.length, ...keys, ...once, ...pairs))
    return answer === 1 ? 'applied' : answer === 0 ? 'done before' : 'held'
  }

  async claim(key: string, holder: string, ttlMs: number, replacing?: string) {
    const run = (this.redis as unknown as { claim: (key: string, holder: string, ttlMs: number, replacing: string) => Promise<number> }).claim.bind(this.redis)
    // '' stands for none: no claim is ever the empty string.
    return (await this.run(() => run(key, holder, ttlMs, replacing ?? ''))) === 1
  }

  async delIfEquals(key: string, value: string) {
    const run = (this.redis as unknown as { delIfEquals: (key: string, value: string) => Promise<number> }).delIfEquals.bind(this.redis)
    return (await this.run(() => run(key, value))) === 1
  }

  async publish(channel: string, message: string) {
    return this.run(() => this.redis.publish(this.channel(channel), message))
  }

  async subscribe(channel: string, onMessage: (message: string) => void) {
    const name = this.channel(channel)
    if (!this.subscriber) {
      this.subscriber = new Redis(this.url, { connectTimeout: 5000, lazyConnect: true })
      this.subscriber.on('error', (error: Error) => this.options.onError?.(error))
      this.subscriber.on('message', (from: string, message: string) => {
        for (const handler of this.handlers.get(from) ?? []) handler(message)
      })
      // Redis away (at start): the connection keeps trying by itself, and the subscriptions
      // wait in its queue until it is ready (and are renewed after every reconnect).
      await this.subscriber.connect().catch(() => {})
    }
    let set = this.handlers.get(name)
    if (!set) {
      set = new Set()
      this.handlers.set(name, set)
      const subscribing = this.subscriber.subscribe(name)
      if (this.subscriber.status === 'ready') await subscribing
      else subscribing.catch(() => {})
    }
    set.add(onMessage)
    return async () => {
      set.delete(onMessage)
      if (set.size === 0) {
        this.handlers.delete(name)
        if (this.subscriber) await settledWithin(this.subscriber.unsubscribe(name), GOODBYE_TIMEOUT_MS)
      }
    }
  }

  async ping() {
    await this.run(() => this.redis.ping())
  }

  async close() {
    await Promise.all([this.redis, this.subscriber].map(async (client) => {
      if (client && !(await settledWithin(client.quit(), GOODBYE_TIMEOUT_MS))) client.disconnect()
    }))
  }
}
