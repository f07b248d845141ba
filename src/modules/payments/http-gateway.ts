// The PaymentGateway port over HTTP, for the bundled simulator (or any processor speaking
// its wire format). Every attempt has a timeout; failed attempts are retried with the SAME
// idempotency key after a jittered, growing pause; a circuit breaker stops calling a
// processor that keeps failing, so checkouts fail fast instead of piling up behind it.
import { setTimeout as sleep } from 'node:timers/promises'
import type {
  AuthorizeInput,
  AuthorizeResult,
  CaptureResult,
  Money,
  PaymentGateway,
  PaymentLookup,
  RefundResult,
  Rejected,
  StatusResult,
  Unavailable,
  Unknown,
} from './gateway.ts'
import { Breaker, type BreakerSettings, type BreakerState } from '../../platform/breaker.ts'
import { parseWireError, parseWirePayment, parseWireRefund, toPayment, toRefund } from './wire.ts'
import { httpCall, type HttpAnswer } from '../../platform/http/client.ts'

export interface HttpGatewayOptions {
  /** The processor's base URL; a function when it is only known later (the in-process simulator). */
  baseUrl: string | (() => Promise<string>)
  /** Per attempt, connecting to reading the whole answer. */
  timeoutMs: number
  /** The processor's API key, sent as `Authorization: Bearer` (the simulator's: GATEWAY_SECRET). */
  apiKey: string
  /** Attempts per call, the first included. Default 4. */
  maxAttempts?: number
  /** Pause before retry n is random in [0, min(maxMs, baseMs * 2^(n-1))]. Defaults 100 and 1000. */
  backoff?: { baseMs: number; maxMs: number }
  breaker?: Partial<BreakerSettings>
  onBreakerStateChange?: (state: BreakerState) => void
  /** Called once per call with how it ended (metrics). */
  /** After each call: its outcome, and the idempotency key it went with (for the log: which payment). */
  onOutcome?: (operation: string, outcome: string, idempotencyKey?: string) => void
  random?: () => number
}

/** One HTTP exchange with the processor. */
interface Request {
  operation: 'authorize' | 'capture' | 'refund' | 'status'
  method: 'GET' | 'POST'
  path: string
  idempotencyKey?: string
  body?: unknown
}

interface Answer {
  status: number
  body: unknown
}

/** The processor could not be reached, timed out, or answered 5xx: counts against the breaker. */
class TransportFailure extends Error {
  override name = 'TransportFailure'
  constructor(
    message: string,
    /** False only when the request cannot have reached the processor (connection refused). */
    readonly mayHaveReached = true,
  ) {
    super(message)
  }
}

/** A timeout this late past its due time means the process stalled, not the processor. */
const STALL_MS = 1_000

export function createHttpGateway(options: HttpGatewayOptions): PaymentGateway & { breakerState(): BreakerState; breakerRetryAfterMs(): number; shutdown(): void } {
  const maxAttempts = options.maxAttempts ?? 4
  const backoff = options.backoff ?? { baseMs: 100, maxMs: 1000 }
  const random = options.random ?? Math.random
  const resolveBase = typeof options.baseUrl === 'string' ? async () => options.baseUrl as string : options.baseUrl
  // Each attempt carries its own AbortSignal.timeout, so the breaker adds no timer of its own.
  const breaker = new Breaker(send, { ...options.breaker, timeoutMs: false }, options.onBreakerStateChange, (error) => error instanceof TransportFailure)

  const attempt = async (url: string, request: Request): Promise<HttpAnswer> =>
    httpCall(url, {
      method: request.method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${options.apiKey}`,
        ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(request.idempotencyKey ? { 'idempotency-key': request.idempotencyKey } : {}),
      },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    })

  async function send(request: Request): Promise<Answer> {
    const base = await resolveBase()
    let response: HttpAnswer
    for (let stalls = 0; ; stalls++) {
      const started = performance.now()
      try {
        response = await attempt(base + request.path, request)
        break
      } catch (error) {
        const name = (error as Error).name
        const timedOut = name === 'TimeoutError' || name === 'AbortError'
        // The timeout fired long after it was due: this process was stalled (frozen, or
        // starved of CPU), not the processor slow, and the answer may be waiting unread
        // (timers run before the socket is read). Not the processor's failure, so not the
        // breaker's: asked again once, with the same key (a replay charges nothing twice).
        if (timedOut && stalls === 0 && performance.now() - started > options.timeoutMs + STALL_MS) continue
        const why = timedOut ? `timed out after ${options.timeoutMs} ms` : `unreachable (${(error as Error).message})`
        // A refused connection carried nothing; any other failure may come after the request went out.
        throw new TransportFailure(`${request.operation}: the processor ${why}`, (error as { code?: string }).code !== 'ECONNREFUSED')
      }
    }
    if (response.status >= 500) throw new TransportFailure(`${request.operation}: the processor answered ${response.status}`)
    let body: unknown = null
    try {
      body = response.text ? JSON.parse(response.text) : null
    } catch {
      throw new TransportFailure(`${request.operation}: the processor answered ${response.status} with a body that is not JSON`)
    }
    return { status: response.status, body }
  }

  /** Attempts `request` until it gets a final answer; the failures the port defines otherwise. */
  async function call(request: Request): Promise<Answer | Unknown | Unavailable> {
    // Once an attempt may have reached the processor, "unavailable" would be a lie: it is unknown.
    let mayHaveReached = false
    let problem = ''
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(random() * Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempt - 2)))
      const answer = await breaker.fire(request)
      if (answer.kind === 'open') {
        if (mayHaveReached) return unknown(`${problem}; then the circuit breaker opened`)
        return { ok: false, code: 'gateway_unavailable', detail: 'The payment gateway is failing; calls are paused for a moment', retryAfterMs: answer.retryAfterMs }
      }
      if (answer.kind === 'failed') {
        if (!(answer.error instanceof TransportFailure) || answer.error.mayHaveReached) mayHaveReached = true
        problem = answer.error.message
        continue
      }
      mayHaveReached = true
      const code = parseWireError(answer.answer.body)?.code
      // The first request with this key is still running (the slow card): ask again shortly.
      if ((answer.answer.status === 409 && code === 'request_in_progress') || answer.answer.status === 429) {
        problem = `${request.operation}: the processor is still processing this idempotency key`
        continue
      }
      return answer.answer
    }
    if (!mayHaveReached) {
      // Every attempt was refused before anything was sent: nothing can have been charged.
      return { ok: false, code: 'gateway_unavailable', detail: `${problem} (after ${maxAttempts} attempts)`, retryAfterMs: 5_000 }
    }
    return unknown(`${problem} (after ${maxAttempts} attempts)`)
  }

  async function run<T extends { ok: boolean; code?: string }>(request: Request, interpret: (answer: Answer) => T | Unknown): Promise<T | Unknown | Unavailable> {
    const answer = await call(request)
    const result = 'ok' in answer ? answer : interpret(answer)
    options.onOutcome?.(request.operation, result.ok ? 'ok' : (result.code ?? 'failed'), request.idempotencyKey)
    return result
  }

  return {
    authorize(input: AuthorizeInput, idempotencyKey: string): Promise<AuthorizeResult> {
      const body = {
        amount: input.amount.amount,
        currency: input.amount.currency,
        orderId: input.orderId,
        capture: input.capture ?? false,
        card: input.card,
      }
      return run({ operation: 'authorize', method: 'POST', path: '/v1/payments', idempotencyKey, body }, (answer): AuthorizeResult | Unknown => {
        if (answer.status >= 400) return rejected(answer)
        const wire = parseWirePayment(answer.body)
        if (!wire) return malformed('authorize')
        const payment = toPayment(wire)
        if (wire.status === 'declined') return { ok: false, code: 'payment_declined', declineCode: wire.declineCode ?? 'card_declined', payment }
        return { ok: true, payment }
      })
    },

    capture(paymentId: string, idempotencyKey: string): Promise<CaptureResult> {
      const path = `/v1/payments/${encodeURIComponent(paymentId)}/capture`
      return run({ operation: 'capture', method: 'POST', path, idempotencyKey, body: {} }, (answer): CaptureResult | Unknown => {
        if (answer.status >= 400) return rejected(answer)
        const wire = parseWirePayment(answer.body)
        return wire ? { ok: true, payment: toPayment(wire) } : malformed('capture')
      })
    },

    refund(paymentId: string, amount: Money | undefined, idempotencyKey: string): Promise<RefundResult> {
      const path = `/v1/payments/${encodeURIComponent(paymentId)}/refund`
      const body = amount ? { amount: amount.amount } : {}
      return run({ operation: 'refund', method: 'POST', path, idempotencyKey, body }, (answer): RefundResult | Unknown => {
        if (answer.status >= 400) return rejected(answer)
        const { refund, payment } = (answer.body ?? {}) as { refund?: unknown; payment?: unknown }
        const wireRefund = parseWireRefund(refund)
        const wirePayment = parseWirePayment(payment)
        if (!wireRefund || !wirePayment) return malformed('refund')
        if (amount && amount.currency !== wireRefund.currency) return malformed('refund (currency differs)')
        return { ok: true, refund: toRefund(wireRefund), payment: toPayment(wirePayment) }
      })
    },

    status(lookup: PaymentLookup): Promise<StatusResult> {
      const path =
        'paymentId' in lookup
          ? `/v1/payments/${encodeURIComponent(lookup.paymentId)}`
          : `/v1/payments?idempotencyKey=${encodeURIComponent(lookup.idempotencyKey)}`
      return run({ operation: 'status', method: 'GET', path }, (answer): StatusResult | Unknown => {
        if (answer.status === 404) return { ok: false, code: 'not_found', detail: 'The processor has no such payment' }
        if (answer.status >= 400) return unknown(`status: the processor answered ${answer.status}`)
        const single = 'paymentId' in lookup ? answer.body : ((answer.body as { items?: unknown[] } | null)?.items ?? [])[0]
        if (single === undefined) return { ok: false, code: 'not_found', detail: 'The processor has no record of this idempotency key' }
        const wire = parseWirePayment(single)
        return wire ? { ok: true, payment: toPayment(wire) } : malformed('status')
      })
    },

    breakerState: () => breaker.state(),
    breakerRetryAfterMs: () => breaker.retryAfterMs(),
    shutdown: () => breaker.shutdown(),
  }
}

function unknown(detail: string): Unknown {
  return { ok: false, code: 'unknown', detail }
}

function malformed(operation: string): Unknown {
  return unknown(`${operation}: the processor's answer was not understood`)
}

const REJECTIONS: Record<string, Rejected['code']> = {
  not_found: 'not_found',
  invalid_state: 'invalid_state',
  idempotency_conflict: 'idempotency_conflict',
}

/** A 4xx answer: the processor refused and changed nothing. */
function rejected(answer: Answer): Rejected {
  const error = parseWireError(answer.body)
  const code = (error && REJECTIONS[error.code]) ?? (answer.status === 404 ? 'not_found' : 'invalid_request')
  return { ok: false, code, detail: error?.message ?? `The processor answered ${answer.status}` }
}
