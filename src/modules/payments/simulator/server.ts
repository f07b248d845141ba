// The bundled card simulator: an HTTP server that answers like a card processor, with
// idempotency keys, signed webhooks, and faults on demand (latency, random 500s). It runs
// as its own process (the `gateway` role) or inside `start`/`api`/`worker` on a loopback port.
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { createHash, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../../../platform/telemetry/log.ts'
import { Ledger, wireOf, type Operation, type StoredResponse } from './ledger.ts'
import { authorize, capture, failure, refund, type AuthorizeRequest, type ProcessorDeps } from './processor.ts'
import { WebhookSender, type WebhookStats } from './webhooks.ts'
import { CREATE_PAYMENT, PAYMENT_PARAMS, REFUND, SETTINGS } from './schemas.ts'

export interface SimulatorSettings {
  /** Added before every API answer. */
  latencyMs: number
  /** Share (0..1) of API calls answered with a 500. */
  failureRate: number
  /** When true, an injected 500 comes after the work is done: the answer is lost, not the charge. */
  failAfterProcessing: boolean
  /** How long the slow test card takes to approve. */
  slowMs: number
}

export interface SimulatorOptions extends Partial<SimulatorSettings> {
  /**
   * Signs webhooks, and is the API key every /v1/ call must bring (`Authorization: Bearer`),
   * as a real processor's secret key is: otherwise anyone who reaches the simulator could
   * create payments for any order id and have them reported by signed webhooks. Never
   * logged, never answered.
   */
  secret: string
  /** Where webhooks go; a function is read at each delivery. null or absent: none are sent. */
  webhookUrl?: string | null | (() => string | null)
  webhookAttempts?: number
  webhookBaseDelayMs?: number
  host?: string
  port?: number
  log?: Logger
  /** Decides injected failures (tests may pass a fixed sequence). */
  random?: () => number
}

export interface SimulatorStats {
  requests: Ledger['counters']
  payments: Record<string, number>
  keys: ReturnType<Ledger['allKeyStats']>
  webhooks: WebhookStats
}

export interface Simulator {
  url: string
  settings(): SimulatorSettings
  update(settings: Partial<SimulatorSettings>): SimulatorSettings
  stats(): SimulatorStats
  /** Resolves when every webhook sent so far was delivered or given up. */
  webhooksIdle(): Promise<void>
  close(): Promise<void>
}

export const DEFAULT_SIMULATOR_SETTINGS: SimulatorSettings = { latencyMs: 0, failureRate: 0, failAfterProcessing: false, slowMs: 5000 }

const KEY = /^[\x21-\x7e]{1,255}$/
const problem = (reply: FastifyReply, response: StoredResponse) => reply.code(response.status).send(response.body)

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  let settings: SimulatorSettings = { ...DEFAULT_SIMULATOR_SETTINGS, ...definedOnly(options) }
  const random = options.random ?? Math.random
  const closing = new AbortController()
  const ledger = new Ledger()
  const target = typeof options.webhookUrl === 'function' ? options.webhookUrl : () => (options.webhookUrl as string | null) ?? null
  const webhooks = new WebhookSender({
    secret: options.secret,
    target,
    attempts: options.webhookAttempts,
    baseDelayMs: options.webhookBaseDelayMs,
    log: options.log,
  })
  const deps: ProcessorDeps = { ledger, webhooks, slowMs: () => settings.slowMs, signal: closing.signal }
  const faulted = new WeakSet<FastifyRequest>()

  const app = Fastify({
    logger: false,
    // A slow-card request must not hold the process open on shutdown.
    forceCloseConnections: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  })

  app.setErrorHandler((error: Error & { validation?: unknown; statusCode?: number }, _request, reply) => {
    if (error.validation) return problem(reply, failure(400, 'invalid_request', error.message))
    if ((error.statusCode ?? 500) < 500) return problem(reply, failure(error.statusCode!, 'invalid_request', error.message))
    if (closing.signal.aborted) return problem(reply, failure(503, 'shutting_down', 'The simulator is stopping', 'api_error'))
    options.log?.error({ err: error }, 'card simulator failed')
    return problem(reply, failure(500, 'internal_error', 'The simulator failed', 'api_error'))
  })
  app.setNotFoundHandler((request, reply) => problem(reply, failure(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`)))

  const apiKey = createHash('sha256').update(`Bearer ${options.secret}`).digest()
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return
    const given = createHash('sha256').update(request.headers.authorization ?? '').digest()
    if (!timingSafeEqual(given, apiKey)) return problem(reply, failure(401, 'unauthorized', 'Send the API key: Authorization: Bearer <secret>'))
  })

  // Latency and injected failures apply to the processor API, not to health or test introspection.
  app.addHook('preHandler', async (request, reply) => {
    if (!request.url.startsWith('/v1/') || request.url.startsWith('/v1/_')) return
    ledger.counters.requests++
    if (settings.latencyMs > 0) await sleep(settings.latencyMs, undefined, { signal: closing.signal })
    if (random() < settings.failureRate) {
      ledger.counters.injectedFailures++
      if (!settings.failAfterProcessing) return problem(reply, failure(500, 'simulated_failure', 'Simulated processor failure', 'api_error'))
      faulted.add(request)
    }
  })

  /**
   * Sends the answer, unless this request was picked for a failure after processing (every
   * /v1/ call may be, reads and replays too: reconciliation's lookups meet failures as well).
   */
  function answer(request: FastifyRequest, reply: FastifyReply, response: StoredResponse) {
    if (faulted.has(request)) return problem(reply, failure(500, 'simulated_failure', 'Simulated processor failure after processing', 'api_error'))
    return problem(reply, response)
  }

  /** Runs `work` at most once per idempotency key; repeats get the stored answer. */
  async function keyed(request: FastifyRequest, reply: FastifyReply, operation: Operation, input: unknown, work: () => Promise<StoredResponse> | StoredResponse) {
    const key = request.headers['idempotency-key']
    if (typeof key !== 'string' || !KEY.test(key)) {
      return problem(reply, failure(400, 'idempotency_key_required', 'Send an Idempotency-Key header of 1-255 visible ASCII characters'))
    }
    const claim = ledger.claim(key, operation, input)
    if (claim.kind === 'conflict') {
      return problem(reply, failure(422, 'idempotency_conflict', `Idempotency-Key was already used for a different ${claim.operation} request`, 'idempotency_error'))
    }
    if (claim.kind === 'in_progress') {
      reply.header('retry-after', '1')
      return problem(reply, failure(409, 'request_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly', 'idempotency_error'))
    }
    if (claim.kind === 'replay') {
      reply.header('idempotent-replayed', 'true')
      return answer(request, reply, claim.response)
    }
    let response: StoredResponse
    try {
      response = await work()
    } catch (error) {
      ledger.release(key)
      throw error
    }
    // Refusals are not kept: the caller may fix the cause and retry with the same key.
    if (response.status >= 400) ledger.release(key)
    else ledger.complete(key, response)
    return answer(request, reply, response)
  }

  app.get('/health/live', async () => ({ status: 'ok' }))
  app.get('/health/ready', async () => ({ status: 'ok' }))

  app.post('/v1/payments', { schema: { body: CREATE_PAYMENT } }, async (request, reply) => {
    const body = request.body as Omit<AuthorizeRequest, 'capture'> & { capture?: boolean }
    const input: AuthorizeRequest = { ...body, capture: body.capture ?? false }
    return keyed(request, reply, 'authorize', input, () => authorize(deps, input, request.headers['idempotency-key'] as string))
  })

  app.post('/v1/payments/:id/capture', { schema: { params: PAYMENT_PARAMS } }, async (request, reply) => {
    const { id } = request.params as { id: string }
    return keyed(request, reply, 'capture', { id }, () => capture(deps, id))
  })

  app.post('/v1/payments/:id/refund', { schema: { params: PAYMENT_PARAMS, body: REFUND } }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const amount = (request.body as { amount?: number } | undefined)?.amount
    return keyed(request, reply, 'refund', { id, amount }, () => refund(deps, id, amount))
  })

  app.get('/v1/payments/:id', { schema: { params: PAYMENT_PARAMS } }, async (request, reply) => {
    const payment = ledger.payment((request.params as { id: string }).id)
    return answer(request, reply, payment ? { status: 200, body: wireOf(payment) } : failure(404, 'not_found', 'No such payment'))
  })

  // "What happened to this key?" for reconciliation: the payment the key created or acted on.
  app.get('/v1/payments', async (request, reply) => {
    const key = (request.query as { idempotencyKey?: unknown }).idempotencyKey
    if (typeof key !== 'string' || key === '') return problem(reply, failure(400, 'invalid_request', 'Give ?idempotencyKey='))
    const payment = ledger.paymentForKey(key)
    return answer(request, reply, { status: 200, body: { object: 'list', items: payment ? [wireOf(payment)] : [] } })
  })

  // Test-only introspection and control (this is a simulator; a real processor has neither).
  app.get('/v1/_stats', async (request) => {
    const key = (request.query as { idempotencyKey?: unknown }).idempotencyKey
    if (typeof key === 'string') return { idempotencyKey: key, ...(ledger.keyStats(key) ?? { executions: 0 }) }
    return stats()
  })
  app.patch('/v1/_settings', { schema: { body: SETTINGS } }, async (request) => update(request.body as Partial<SimulatorSettings>))

  function stats(): SimulatorStats {
    return { requests: { ...ledger.counters }, payments: ledger.paymentCounts(), keys: ledger.allKeyStats(), webhooks: { ...webhooks.stats } }
  }
  function update(next: Partial<SimulatorSettings>): SimulatorSettings {
    settings = { ...settings, ...definedOnly(next) }
    return { ...settings }
  }

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 })
  const { port } = app.server.address() as { port: number }
  const host = options.host && !['0.0.0.0', '::'].includes(options.host) ? options.host : '127.0.0.1'
  options.log?.debug({ address }, 'card simulator listening')

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    settings: () => ({ ...settings }),
    update,
    stats,
    webhooksIdle: () => webhooks.idle(),
    async close() {
      closing.abort()
      await app.close()
      await webhooks.close()
    },
  }
}

function definedOnly(values: Partial<SimulatorSettings>): Partial<SimulatorSettings> {
  const keys = ['latencyMs', 'failureRate', 'failAfterProcessing', 'slowMs'] as const
  return Object.fromEntries(keys.filter((k) => values[k] !== undefined).map((k) => [k, values[k]])) as Partial<SimulatorSettings>
}
