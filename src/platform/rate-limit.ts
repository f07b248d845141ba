// Limits on how often one client may do something, counted in the KV (Redis: shared by every
// process) in fixed windows. For work that leaves state behind or is dear (a guest cart that
// lives for days), not for reads: a carrier's NAT puts thousands of shoppers behind one
// address, and a read costs little more than the count would.
import { AppError, retryAfterSeconds } from './http/errors.ts'
import type { Kv } from './kv/types.ts'
import { throttledWarn, type Logger } from './telemetry/log.ts'

export interface RateLimit {
  /** Names the counter (its KV key) and the action in the 429's detail. */
  name: string
  /** Allowed per client per window; 0 switches the limit off. */
  max: number
  windowMs: number
}

export type TakeAllowance = (limit: RateLimit, client: string) => Promise<void>

/**
 * take(limit, client) counts one action and throws a 429 `too_many_requests` (Retry-After:
 * until the window ends) past the limit. The KV unreachable, the action is let through: a
 * limit is a guard against abuse, not a dependency every shopper must wait on.
 */
export function createRateLimiter(kv: Kv, log: Logger): TakeAllowance {
  const uncounted = throttledWarn(log, 'rate limit could not be counted (KV unreachable); letting requests through')
  return async (limit, client) => {
    if (limit.max === 0) return
    const key = `rate:${limit.name}:${client}`
    let count: number
    try {
      count = await kv.incr(key, 1, limit.windowMs)
    } catch (error) {
      uncounted({ err: error, limit: limit.name })
      return
    }
    if (count <= limit.max) return
    const left = await kv.ttl(key).catch(() => limit.windowMs)
    throw new AppError('too_many_requests', `Too many ${limit.name} from this client; try again later`, {
      retryAfter: retryAfterSeconds(left > 0 ? left : limit.windowMs),
    })
  }
}
