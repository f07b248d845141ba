// The circuit breaker around single attempts to reach the processor (opossum 9: the newest
// line that supports Node 20). When too many attempts fail in the rolling window it opens:
// calls are refused without touching the network until `resetMs` has passed, then one
// trial attempt is let through (half-open) and its result closes or re-opens it.
import CircuitBreaker from 'opossum'

export interface BreakerSettings {
  resetMs: number
  /** Attempts in the window before the failure rate may open it. */
  volumeThreshold: number
  /** Failure rate (percent) above which it opens. */
  errorThresholdPercentage: number
  rollingWindowMs: number
}

export type BreakerState = 'closed' | 'open' | 'halfOpen'

export type Fired<A> = { kind: 'answered'; answer: A } | { kind: 'failed'; error: Error } | { kind: 'open'; retryAfterMs: number }

const DEFAULTS: BreakerSettings = { resetMs: 10_000, volumeThreshold: 5, errorThresholdPercentage: 50, rollingWindowMs: 10_000 }
// Opossum's codes for "refused without running the action".
const REFUSED = ['EOPENBREAKER', 'ESHUTDOWN', 'ESEMLOCKED']

export class GatewayBreaker<R, A> {
  private readonly breaker: CircuitBreaker<[R], A>
  private readonly settings: BreakerSettings
  private openedAt = 0

  /** `isFailure` tells transport failures (counted) from bugs (thrown to the caller). */
  constructor(
    action: (request: R) => Promise<A>,
    settings: Partial<BreakerSettings>,
    onStateChange: ((state: BreakerState) => void) | undefined,
    private readonly isFailure: (error: unknown) => boolean,
  ) {
    this.settings = { ...DEFAULTS, ...settings }
    this.breaker = new CircuitBreaker(action, {
      // Each attempt carries its own AbortSignal.timeout; opossum's timer would only race it.
      timeout: false,
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

  private retryAfterMs(): number {
    return Math.max(0, this.settings.resetMs - (Date.now() - this.openedAt))
  }

  shutdown(): void {
    this.breaker.shutdown()
  }
}
