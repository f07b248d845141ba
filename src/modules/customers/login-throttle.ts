import { createHash, randomBytes } from 'node:crypto'
import { AppError, retryAfterSeconds } from '../../platform/http/errors.ts'
import type { Kv } from '../../platform/kv/types.ts'

export interface LoginLimits {
  /** Failed sign-ins allowed per account in one window. */
  perAccount: number
  /** Failed sign-ins allowed per client IP in one window (guessing across many accounts). */
  perIp: number
  /**
   * Sign-ins of one account (and of each browser the account signed in from before) in one
   * window, right or wrong: each hashes a password, and one client signing in to its own
   * account in a loop kept the hashing queue full (never throttled: a success gives its
   * count back), other shoppers' sign-ins waiting seconds or answered 503. Nobody signs in
   * to one account this often; a NAT's many shoppers are many accounts.
   */
  signInsPerAccount: number
  windowMs: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAccount: 10, perIp: 50, signInsPerAccount: 30, windowMs: 15 * 60_000 }

/** 429 with the seconds until the window ends; the route copies them into Retry-After. */
export class TooManyAttempts extends AppError {
  constructor(readonly retryAfterSeconds: number, detail = 'Too many sign-in attempts; try again later') {
    super('too_many_requests', detail, { retryAfter: retryAfterSeconds })
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32)
// The e-mail is hashed so the KV holds no addresses; a device token is kept only as a hash.
const accountKey = (email: string) => `login-fail:acct:${digest(email)}`
const ipKey = (ip: string) => `login-fail:ip:${ip}`
const deviceFailKey = (device: string) => `login-fail:dev:${digest(device)}`
const deviceKey = (device: string) => `login-device:${digest(device)}`
const registerKey = (ip: string) => `register:ip:${ip}`
/** All sign-ins (right or wrong) of an attempt budget: an account's, or a device's for its account. */
const signInsKey = (budgetKey: string) => `login-all:${budgetKey}`

/** How long a browser that signed in to an account is known to it (the `did` cookie's life). */
export const DEVICE_TTL_MS = 180 * 24 * 3600_000

/** Which budget an attempt was counted against: the account's, or (`device`) a browser the account signed in from before. */
export type AttemptBudget = { key: string; device: string | null }

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
  /**
   * Takes an attempt back from a counter. One whose window ended meanwhile (a sign-in that
   * straddled it: argon2 takes a while) is not carried into the next: the increment made a
   * new counter at -1, and a burst of such give-backs let that many more guesses through.
   */
  async function giveBack(key: string): Promise<void> {
    const left = await kv.incr(key, -1, limits.windowMs)
    if (left < 0) await kv.incr(key, -left, limits.windowMs)
  }

  async function retryAfter(keys: string[]): Promise<number> {
    const ttls = await Promise.all(keys.map((key) => kv.ttl(key)))
    return Math.max(...ttls.map(retryAfterSeconds))
  }

  /** The budget an attempt from `device` draws on: its own, if the account signed in from it before. */
  async function budgetOf(email: string, device: string | null): Promise<AttemptBudget> {
    if (device && (await kv.get(deviceKey(device))) === digest(email)) return { key: deviceFailKey(device), device }
    return { key: accountKey(email), device: null }
  }

  return {
    /**
     * Counts an attempt; throws TooManyAttempts when the IP or the attempt's budget is over
     * its limit. Answers the budget, for succeeded() and unchecked(). A browser that signed
     * in to the account before (its `did` cookie, OWASP's device cookies) has a budget of its
     * own: the account's, used up by anyone typing wrong passwords for the e-mail, locked its
     * owner (and the shop's admin) out for 15 minutes, ten requests any stranger could send.
     */
    async begin(email: string, ip: string, device: string | null = null): Promise<AttemptBudget> {
      // The IP first: an attempt refused for its IP does not count against the account, or a
      // client already stopped could go on locking other shoppers out of their accounts.
      const fromIp = await kv.incr(ipKey(ip), 1, limits.windowMs)
      if (fromIp > limits.perIp) throw new TooManyAttempts(await retryAfter([ipKey(ip)]))
      const budget = await budgetOf(email, device)
      const attempts = await kv.incr(budget.key, 1, limits.windowMs)
      if (attempts > limits.perAccount) {
        // Refused for the account: no password is checked, so the IP gets its attempt back.
        await giveBack(ipKey(ip))
        throw new TooManyAttempts(await retryAfter([budget.key]))
      }
      // Every checked attempt of the budget, whatever its outcome (never given back). Per
      // budget like the failures: counted for the account alone, a stranger's 30 requests
      // locked its owner out on the browser it always uses.
      const signIns = signInsKey(budget.key)
      if ((await kv.incr(signIns, 1, limits.windowMs)) > limits.signInsPerAccount) {
        // Refused unchecked: the IP and the budget get their attempt back.
        await Promise.all([giveBack(ipKey(ip)), giveBack(budget.key)])
        throw new TooManyAttempts(await retryAfter([signIns]))
      }
      return budget
    },

    /**
     * Counts a registration from `ip`; throws TooManyAttempts past the IP's limit. Each one
     * hashes a password (the cores' scarcest work) and answers whether an e-mail has an
     * account: unlimited, anyone could keep the hashing queue full (honest sign-ins 503) or
     * learn which of a list of addresses shop here.
     */
    async registering(ip: string): Promise<void> {
      const count = await kv.incr(registerKey(ip), 1, limits.windowMs)
      if (count > limits.perIp) throw new TooManyAttempts(await retryAfter([registerKey(ip)]), 'Too many registrations from this address; try again later')
    },

    /** An attempt counted by begin() whose password was never checked (the hashing queue full, the database down): both counts go back. */
    async unchecked(budget: AttemptBudget, ip: string): Promise<void> {
      await Promise.all([giveBack(budget.key), giveBack(ipKey(ip))])
    },

    /**
     * A successful sign-in: the account starts afresh, the IP gets its attempt back (the ttl
     * keeps a racing expiry from leaving a key behind), and the browser is known to the
     * account from now on: answers its device token (the one it sent, if it was this
     * account's, else a new one).
     */
    async succeeded(email: string, ip: string, budget: AttemptBudget): Promise<string> {
      const known = budget.device ?? randomBytes(24).toString('base64url')
      await Promise.all([
        kv.del(accountKey(email), deviceFailKey(known)),
        giveBack(ipKey(ip)),
        kv.set(deviceKey(known), digest(email), { ttlMs: DEVICE_TTL_MS }),
      ])
      return known
    },
  }
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>
