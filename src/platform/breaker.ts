// A circuit breaker around calls to a dependency (the payment gateway, search), on opossum 9:
// the newest line that supports Node 20. When too many calls fail in the rolling window it
// opens: calls are refused without running until `resetMs` has passed, then one trial call is
// let through (half-open) and its result closes or re-opens it.
import CircuitBreaker from 'opossum'

export interface BreakerSettings {
  /** A call slower than this fails; false when the action carries its own timeout. */
  timeoutMs: number | false
  resetMs: number
  /** Attempts in the window before the failure rate may open it. */
  volumeThreshold: number
  /** Failure rate (percent) above which it opens. */
  errorThresholdPercentage: number
  rollingWindowMs: number
}

export type BreakerState = 'closed' | 'open' | 'halfOpen'

export type Fired<A> = { kind: 'answered'; answer: A } | { kind: 'failed'; error: Error } | { kind: 'open'; retryAfterMs: number }

const DEFAULTS: BreakerSettings = { timeoutMs: false, resetMs: 10_000, volumeThreshold: 5, errorThresholdPercentage: 50, rollingWindowMs: 10_000 }
// Opossum's codes for "refused without running the action".
const REFUSED = ['EOPENBREAKER', 'ESHUTDOWN', 'ESEMLOCKED']

export class Breaker<R, A> {
  private readonly breaker: CircuitBreaker<[R], A>
  private readonly settings: BreakerSettings
  private openedAt = 0

  /** `isFailure` tells failures of the dependency (counted) from the caller's own errors (thrown to the caller, not counted). */
  constructor(
    action: (request: R) => Promise<A>,
    settings: Partial<BreakerSettings>,
    onStateChange: ((state: BreakerState) => void) | undefined,
    private readonly isFailure: (error: unknown) => boolean,
  ) {
    this.settings = { ...DEFAULTS, ...settings }
    this.breaker = new CircuitBreaker(action, {
      timeout: this.settings.timeoutMs,
      resetTimeout: this.settings.resetMs,
      volumeThreshold: this.settings.volumeThreshold,
      errorThresholdPercentage: this.settings.errorThresholdPercentage,
      rollingCountTimeout: this.settings.rollingWindowMs,
      errorFilter: (error: unknown) => !isFailure(error),
    })
    this.breaker.on('open', () => {
      this.openedAt = Date.now()
      onStateChange?.('open')
    })
    this.breaker.on('halfOpen', () => onStateChange?.('halfOpen'))
    this.breaker.on('close', () => onStateChange?.('closed'))
  }

  async fire(request: R): Promise<Fired<A>> {
    try {
      return { kind: 'answered', answer: await this.breaker.fire(request) }
    } catch (error) {
      if (REFUSED.includes((error as { code?: string }).code ?? '')) return { kind: 'open', retryAfterMs: this.retryAfterMs() }
      if (!this.isFailure(error)) throw error
      return { kind: 'failed', error: error as Error }
    }
  }

  state(): BreakerState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'halfOpen' : 'closed'
  }

  retryAfterMs(): number {
    return Math.max(0, this.settings.resetMs - (Date.now() - this.openedAt))
  }

  shutdown(): void {
    this.breaker.shutdown()
  }
}
