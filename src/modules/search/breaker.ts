// Search sits behind a timeout and the platform's circuit breaker. When searches keep
// failing or timing out, the breaker opens and every search is refused at once with 503 + Retry-After instead of
// queueing on a struggling database; product pages, which never go through it, keep working.
import { Breaker as PlatformBreaker } from '../../platform/breaker.ts'
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

const INPUT_ERROR_CLASSES = ['22', '54']
const sqlStateClass = (error: unknown) => String((error as { code?: unknown })?.code ?? '').slice(0, 2)

export class Breaker {
  private readonly breaker: PlatformBreaker<Action, unknown>

  constructor(options: BreakerOptions) {
    this.breaker = new PlatformBreaker(
      (action: Action) => action(),
      {
        timeoutMs: options.timeoutMs,
        resetMs: options.resetMs,
        volumeThreshold: options.volumeThreshold ?? 5,
        errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
      },
      options.onStateChange,
      // A refused request (bad input) says nothing about the health of the search store, nor
      // does a value PostgreSQL refused (SQLSTATE class 22, data exception; 54, program
      // limit): counting those would let a few crafted requests open the breaker for everyone.
      (error) => !(error instanceof AppError && error.status < 500) && !INPUT_ERROR_CLASSES.includes(sqlStateClass(error)),
    )
  }

  get isOpen(): boolean {
    return this.breaker.state() === 'open'
  }

  /** Seconds until the breaker lets a trial call through (at least 1). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.breaker.retryAfterMs() / 1000))
  }

  async run<T>(action: () => Promise<T>): Promise<T> {
    const fired = await this.breaker.fire(action)
    if (fired.kind === 'answered') return fired.answer as T
    if (fired.kind === 'open') throw new SearchUnavailable('Search is unavailable for a moment; try again shortly', this.retryAfterSeconds())
    const code = (fired.error as { code?: string }).code
    if (code === 'ETIMEDOUT') throw new SearchUnavailable('Search took too long; try again shortly', 1, fired.error)
    throw new SearchUnavailable('Search failed; try again shortly', 1, fired.error)
  }

  shutdown(): void {
    this.breaker.shutdown()
  }
}
