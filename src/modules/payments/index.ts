// Payments: the card-gateway port, the bundled card simulator, and verified payment webhooks.
// The only file other modules and the composition root import.
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import { Counter, Gauge } from 'prom-client'
import type { Config } from '../../config.ts'
import type { Sql } from '../../platform/db/index.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import type { Metrics } from '../../platform/telemetry/metrics.ts'
import type { PaymentGateway } from './gateway.ts'
import type { BreakerState } from '../../platform/breaker.ts'
import { createHttpGateway, type HttpGatewayOptions } from './http-gateway.ts'
import { receivePaymentEvent, type PaymentEventHandler } from './receive-event.ts'
import { paymentRoutes } from './routes.ts'
import { purgeOldWebhookEvents } from './repo.ts'
import { startSimulator, type Simulator, type SimulatorOptions } from './simulator/server.ts'

export * from './gateway.ts'
export type { PaymentEventHandler } from './receive-event.ts'
export type { BreakerState } from '../../platform/breaker.ts'
export type { Simulator, SimulatorSettings, SimulatorStats } from './simulator/server.ts'
export { TEST_CARDS } from './simulator/cards.ts'
export { WEBHOOK_EVENT_RETENTION_DAYS } from './repo.ts'
export { createHttpGateway } from './http-gateway.ts'
export { startSimulator } from './simulator/server.ts'
export { signatureHeader, verifySignature, SIGNATURE_HEADER } from './signature.ts'

export type PaymentsConfig = Pick<
  Config,
  | 'gatewayUrl'
  | 'gatewaySecret'
  | 'gatewayWebhookUrl'
  | 'gatewayTimeoutMs'
  | 'gatewayBreakerResetMs'
  | 'simulatorLatencyMs'
  | 'simulatorFailureRate'
  | 'simulatorSlowMs'
>

export interface PaymentsDeps {
  sql: Sql
  log: Logger
  metrics: Metrics
  config: PaymentsConfig
  /** Client knobs (tests): attempts, backoff, breaker thresholds. */
  client?: Pick<HttpGatewayOptions, 'maxAttempts' | 'backoff' | 'breaker'>
  /** In-process simulator knobs (tests): webhook retry pacing. */
  simulator?: Pick<SimulatorOptions, 'webhookAttempts' | 'webhookBaseDelayMs'>
}

const WEBHOOK_PATH = '/webhooks/payments'
const BREAKER_STATE: Record<BreakerState, number> = { closed: 0, halfOpen: 1, open: 2 }

export function createPaymentsModule(deps: PaymentsDeps) {
  const { config, log } = deps
  const inProcess = config.gatewayUrl === null
  // In-process, the simulator and the webhook route share this process, so a random secret
  // works and nothing has to be configured. With a separate gateway, config requires one.
  const secret = config.gatewaySecret ?? randomBytes(32).toString('hex')
  const handlers: PaymentEventHandler[] = []
  const metrics = gatewayMetrics(deps.metrics)
  let webhookServer: Server | null = null
  let simulator: Simulator | null = null
  let starting: Promise<string> | null = null

  /** The gateway's base URL; starts the in-process simulator on first use. */
  function start(): Promise<string> {
    starting ??= (async () => {
      if (!inProcess) return config.gatewayUrl!
      simulator = await startSimulator({
        secret,
        webhookUrl: () => config.gatewayWebhookUrl ?? (webhookServer ? localUrl(webhookServer) : null),
        latencyMs: config.simulatorLatencyMs,
        failureRate: config.simulatorFailureRate,
        slowMs: config.simulatorSlowMs,
        log,
        ...deps.simulator,
      })
      log.info({ url: simulator.url }, 'card simulator running in-process')
      return simulator.url
    })()
    return starting
  }

  const gateway = createHttpGateway({
    baseUrl: inProcess ? start : config.gatewayUrl!,
    timeoutMs: config.gatewayTimeoutMs,
    apiKey: secret,
    ...deps.client,
    breaker: { resetMs: config.gatewayBreakerResetMs, ...deps.client?.breaker },
    onBreakerStateChange: (state) => {
      metrics.breaker.set(BREAKER_STATE[state])
      log.warn({ breaker: 'payment-gateway', state }, 'payment gateway circuit breaker changed state')
    },
    onOutcome: (operation, outcome, idempotencyKey) => {
      metrics.calls.inc({ operation, outcome })
      if (outcome === 'unknown') log.warn({ operation, idempotencyKey }, 'payment gateway outcome unknown; retry with the same key or ask status()')
    },
  })

  return {
    /** The card processor, behind timeouts, same-key retries and a circuit breaker. */
    gateway: gateway as PaymentGateway,
    /** Mounts POST /webhooks/payments. */
    routes: paymentRoutes({ secret: () => secret, receive: (event) => receivePaymentEvent(deps.sql, handlers, event), log }),
    /** Subscribes to verified payment events; runs once per event, in the transaction that records it. */
    onPaymentEvent(handler: PaymentEventHandler): void {
      handlers.push(handler)
    },
    /** Housekeeping: deletes a batch of webhook events past WEBHOOK_EVENT_RETENTION_DAYS; answers how many. */
    purgeOldWebhookEvents: () => purgeOldWebhookEvents(deps.sql),
    /** The in-process simulator sends webhooks to this server (unless GATEWAY_WEBHOOK_URL says otherwise). */
    deliverWebhooksTo(server: Server): void {
      webhookServer = server
    },
    /** Starts the in-process simulator when there is no GATEWAY_URL (idempotent; gateway calls also start it). */
    async start(): Promise<void> {
      await start()
    },
    async stop(): Promise<void> {
      gateway.shutdown()
      await starting?.catch(() => {})
      const running = simulator
      simulator = null
      await running?.close()
    },
    /** The in-process simulator once started, for tests and introspection; null with GATEWAY_URL. */
    simulator: () => simulator,
    breakerState: () => gateway.breakerState(),
    /** While the gateway's breaker is open, how long until it lets a call try again; 0 otherwise. */
    pausedForMs: () => (gateway.breakerState() === 'open' ? Math.max(1, gateway.breakerRetryAfterMs()) : 0),
  }
}

export type PaymentsModule = ReturnType<typeof createPaymentsModule>

/** The `gateway` role: the card simulator as its own process. */
export function startGatewayProcess(config: Readonly<Config>, log: Logger): Promise<Simulator> {
  if (config.gatewaySecret === null) throw new Error('the gateway role needs GATEWAY_SECRET (checked at start)')
  return startSimulator({
    secret: config.gatewaySecret,
    host: config.host,
    port: config.gatewayPort,
    webhookUrl: config.gatewayWebhookUrl,
    latencyMs: config.simulatorLatencyMs,
    failureRate: config.simulatorFailureRate,
    slowMs: config.simulatorSlowMs,
    log,
  })
}

/**
 * The card simulator of an api cluster's primary (no GATEWAY_URL): one for all its
 * processes, as a card processor is one. A simulator in each process knew only that
 * process's charges: a checkout retried on another process found none and charged again.
 */
export function startClusterSimulator(config: Readonly<Config>, log: Logger, secret: string, apiPort: () => number | null): Promise<Simulator> {
  return startSimulator({
    secret,
    webhookUrl: () => {
      const port = apiPort()
      return config.gatewayWebhookUrl ?? (port === null ? null : webhookUrlAt(config.host, port))
    },
    latencyMs: config.simulatorLatencyMs,
    failureRate: config.simulatorFailureRate,
    slowMs: config.simulatorSlowMs,
    log,
  })
}

function localUrl(server: Server): string | null {
  const address = server.address()
  if (address === null || typeof address === 'string') return null
  return webhookUrlAt(address.address, address.port)
}

/** The webhook URL of an api listening on `host` (a wildcard address: reached on loopback). */
function webhookUrlAt(host: string, port: number): string {
  const reachable = ['0.0.0.0', '::', ''].includes(host) ? '127.0.0.1' : host
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}${WEBHOOK_PATH}`
}

function gatewayMetrics(metrics: Metrics) {
  // Several module sets may share one registry (the `start` role builds more than one).
  const registry = metrics.registry
  return {
    breaker:
      (registry.getSingleMetric('payment_gateway_breaker_state') as Gauge | undefined) ??
      new Gauge({ name: 'payment_gateway_breaker_state', help: 'Payment gateway circuit breaker: 0 closed, 1 half-open, 2 open', aggregator: 'max', registers: [registry] }),
    calls:
      (registry.getSingleMetric('payment_gateway_calls_total') as Counter<'operation' | 'outcome'> | undefined) ??
      new Counter({
        name: 'payment_gateway_calls_total',
        help: 'Payment gateway calls by operation and outcome (ok, payment_declined, unknown, gateway_unavailable, ...)',
        labelNames: ['operation', 'outcome'],
        registers: [registry],
      }),
  }
}
