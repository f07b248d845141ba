// Search sits behind a timeout and a circuit breaker (opossum 9: the newest line that
// supports Node 20; opossum 10 needs Node 22). When searches keep failing or timing out,
// the breaker opens and every search is refused at once with 503 + Retry-After instead of
// queueing on a struggling database; product pages, which never go through it, keep working.
import CircuitBreaker from 'opossum'
import { AppError } from '../../platform/http/errors.ts'

export interface BreakerOptions {
  /** A call slower than this fails (and counts against the breaker). */
  timeoutMs: number
  /** How long the breaker stays open before letting one trial call through. */
  resetMs: number
  /** Calls in the rolling window before the error rate can open it. */
  volumeThreshold?: number
  errorThresholdPercentage?: number
  onStateChange?: (state: 'open' | 'halfOpen' | 'closed') => void
}

/** Thrown while the breaker refuses calls, or when a call fails or times out. */
export class SearchUnavailable extends AppError {
  constructor(
    detail: string,
    readonly retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super('unavailable', detail, {}, 503)
    if (cause !== undefined) this.cause = cause
  }
}

type Action = () => Promise<unknown>

export class Breaker {
  private readonly breaker: CircuitBreaker<[Action], unknown>
  private openedAt = 0

  constructor(private readonly options: BreakerOptions) {
    this.breaker = new CircuitBreaker((action: Action) => action(), {
      timeout: options.timeoutMs,
      resetTimeout: options.resetMs,
      volumeThreshold: options.volumeThreshold ?? 5,
      errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
      rollingCountTimeout: 10_000,
      // A refused request (bad input) says nothing about the health of the search store.
      errorFilter: (error: unknown) => error instanceof AppError && error.status < 500,
    })
    this.breaker.on('open', () => {
      this.openedAt = Date.now()
      options.onStateChange?.('open')
    })
    this.breaker.on('halfOpen', () => options.onStateChange?.('halfOpen'))
    this.breaker.on('close', () => options.onStateChange?.('closed'))
  }

  get isOpen(): boolean {
    return this.breaker.opened
  }

  /** Seconds until the breaker lets a trial call through (at least 1). */
  retryAfterSeconds(): number {
    const remaining = this.options.resetMs - (Date.now() - this.openedAt)
    return Math.max(1, Math.ceil(remaining / 1000))
  }

  async run<T>(action: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(action)) as T
    } catch (error) {
      if (error instanceof AppError && error.status < 500) throw error
      const code = (error as { code?: string }).code
      if (code === 'EOPENBREAKER') throw new SearchUnavailable('Search is unavailable for a moment; try again shortly', this.retryAfterSeconds())
      if (code === 'ETIMEDOUT') throw new SearchUnavailable('Search took too long; try again shortly', 1, error)
      throw new SearchUnavailable('Search failed; try again shortly', 1, error)
    }
  }

  shutdown(): void {
    this.breaker.shutdown()
  }
}
