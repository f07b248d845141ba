import { createHash } from 'node:crypto'
import { AppError } from '../../platform/http/errors.ts'
import type { Kv } from '../../platform/kv/types.ts'

export interface LoginLimits {
  /** Failed sign-ins allowed per account in one window. */
  perAccount: number
  /** Failed sign-ins allowed per client IP in one window (guessing across many accounts). */
  perIp: number
  windowMs: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAccount: 10, perIp: 50, windowMs: 15 * 60_000 }

/** 429 with the seconds until the window ends; the route copies them into Retry-After. */
export class TooManyAttempts extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', 'Too many sign-in attempts; try again later', { retryAfter: retryAfterSeconds })
  }
}

// The e-mail is hashed so the KV holds no addresses.
const accountKey = (email: string) => `login-fail:acct:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`
const ipKey = (ip: string) => `login-fail:ip:${ip}`

/**
 * Fixed-window counters in the KV. An attempt is counted before the password is checked
 * (one atomic increment), so a burst of parallel guesses cannot slip past the limit; a
 * success then takes its count back, and so does an attempt whose password was never
 * checked (refused for its account's limit, or told to come back while the hashing queue
 * was full): only wrong passwords use up a window. Kept, those had an office or a carrier's
 * NAT address, its shoppers signing in with the right passwords at a sale's peak, locked
 * out for the window. An unknown e-mail is counted like a known one.
 */
export function createLoginThrottle(kv: Kv, limits: LoginLimits) {
  async function retryAfter(keys: string[]): Promise<number> {
    const ttls = await Promise.all(keys.map((key) => kv.ttl(key)))
    return Math.max(1, ...ttls.map((ms) => Math.ceil(ms / 1000)))
  }

  return {
    /** Counts an attempt; throws TooManyAttempts when the account or the IP is over its limit. */
    async begin(email: string, ip: string): Promise<void> {
      // The IP first: an attempt refused for its IP does not count against the account, or a
      // client already stopped could go on locking other shoppers out of their accounts.
      const fromIp = await kv.incr(ipKey(ip), 1, limits.windowMs)
      if (fromIp > limits.perIp) throw new TooManyAttempts(await retryAfter([ipKey(ip)]))
      const account = await kv.incr(accountKey(email), 1, limits.windowMs)
      if (account > limits.perAccount) {
        // Refused for the account: no password is checked, so the IP gets its attempt back.
        await kv.incr(ipKey(ip), -1, limits.windowMs)
        throw new TooManyAttempts(await retryAfter([accountKey(email)]))
      }
    },

    /** An attempt counted by begin() whose password was never checked (the hashing queue full, the database down): both counts go back. */
    async unchecked(email: string, ip: string): Promise<void> {
      await Promise.all([kv.incr(accountKey(email), -1, limits.windowMs), kv.incr(ipKey(ip), -1, limits.windowMs)])
    },

    /** A successful sign-in: the account starts afresh and the IP gets its attempt back (the ttl keeps a racing expiry from leaving a key behind). */
    async succeeded(email: string, ip: string): Promise<void> {
      await Promise.all([kv.del(accountKey(email)), kv.incr(ipKey(ip), -1, limits.windowMs)])
    },
  }
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>
