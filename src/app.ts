// The composition root: wires modules to the platform and to each other as plain
// function arguments. One place to read to see what depends on what.
import type { Platform } from './platform/index.ts'
import { buildHttpServer, type App } from './platform/http/server.ts'
import { OutboxDispatcher, purgeDelivered, type OutboxEvent } from './platform/bus/outbox.ts'
import type { Tx } from './platform/db/index.ts'
import { eventStream, JetStreamPublisher } from './platform/bus/jetstream.ts'
import { housekeepingRound, startHousekeeping, type HousekeepingTask } from './platform/housekeeping.ts'
import { createCustomersModule } from './modules/customers/index.ts'
import { createInventoryModule, inventoryEvents } from './modules/inventory/index.ts'
import { catalogEvents, createCatalogModule } from './modules/catalog/index.ts'
import { createCartModule } from './modules/cart/index.ts'
import { createSearchModule } from './modules/search/index.ts'
import { createPaymentsModule } from './modules/payments/index.ts'
import { checkoutOutcomes, createOrdersModule, orderEvents, paymentPortFrom } from './modules/orders/index.ts'
import { placeholderPageRoutes } from './web/placeholder.ts'
import { createRateLimiter } from './platform/rate-limit.ts'
import { embeddedVacuumTask } from './platform/db/embedded-vacuum.ts'

export function createModules(platform: Platform) {
  const { sql, kv, log, metrics, config } = platform
  const inventory = createInventoryModule({ sql })
  const catalog = createCatalogModule({
    sql,
    kv,
    log,
    metrics,
    stock: inventory,
    lruTtlMs: config.lruTtlMs,
    loadTimeoutMs: config.dbQueryTimeoutMs,
  })
  const takeAllowance = createRateLimiter(kv, log)
  const cart = createCartModule({
    kv,
    catalog,
    stock: inventory,
    declinesPerShopper: config.declinesPerShopper,
    takeAllowance,
    cartsPerIpPerMinute: config.cartsPerIpPerMinute,
    cartsPerIpPerDay: config.cartsPerIpPerDay,
  })
  const customers = createCustomersModule({ sql, kv, log, carts: cart })
  const search = createSearchModule({
    sql,
    kv,
    log,
    metrics,
    catalog,
    stock: inventory,
    timeoutMs: config.searchTimeoutMs,
    breakerResetMs: config.searchBreakerResetMs,
    cacheTtlMs: config.searchCacheTtlMs,
    openPool: (settings) => platform.openPool(settings),
  })
  const payments = createPaymentsModule({ sql, log, metrics, config })
  const orders = createOrdersModule({
    sql,
    log,
    cart: cart.checkout,
    catalog,
    inventory,
    payments: paymentPortFrom(payments.gateway, () => payments.pausedForMs()),
    regionOf: customers.regionOf,
    claimer: platform.liveness,
    countCheckout: checkoutOutcomes(metrics),
  })
  // A charge whose answer checkout never got (timeout) can settle through the webhook.
  payments.onPaymentEvent(orders.onPaymentEvent)
  return { customers, inventory, catalog, cart, search, payments, orders }
}

export type Modules = ReturnType<typeof createModules>

export interface Api {
  app: App
  modules: Modules
  stop(): Promise<void>
}

/** The `api` role: HTTP in front of the modules. */
export async function createApi(platform: Platform, modules = createModules(platform)): Promise<Api> {
  await modules.catalog.start()
  await modules.search.start()
  const app = await buildHttpServer({
    config: platform.config,
    log: platform.log,
    metrics: platform.metrics,
    readiness: platform.readiness,
    reported: platform.reported,
    resolveSession: modules.customers.resolveSession,
    routes: async (app) => {
      await app.register(placeholderPageRoutes)
      await app.register(modules.customers.routes)
      await app.register(modules.catalog.routes)
      await app.register(modules.search.routes)
      await app.register(modules.cart.routes)
      await app.register(modules.payments.routes)
      await app.register(modules.orders.routes)
      await app.register(modules.inventory.routes)
    },
  })
  // Without GATEWAY_URL the card simulator runs in this process and posts its webhooks to this server.
  modules.payments.deliverWebhooksTo(app.server)
  await modules.payments.start()
  return {
    app,
    modules,
    async stop() {
      // Fastify's close stops accepting and waits for requests in flight.
      await app.close()
      await modules.catalog.stop()
      await modules.search.stop()
      await modules.payments.stop()
    },
  }
}

/**
 * How often the worker trims delivered outbox events and expired Idempotency-Keys. A round
 * removes up to 100,000 rows per table (20 batches of 5,000): every minute keeps up with a
 * Black-Friday peak of a few hundred events per second; a round with nothing to do is a
 * couple of index probes.
 */
const HOUSEKEEPING_INTERVAL_MS = 60_000

/** The `worker` role: delivers outbox events to the modules' handlers, reconciles charges, keeps house. */
export function createWorker(platform: Platform, modules: Modules, options: { sharesGatewayWithApi: boolean } = { sharesGatewayWithApi: true }) {
  // Reconciliation asks the gateway what happened to a charge. A worker with its own
  // in-process simulator would find nothing of the API's charges and cancel paid orders,
  // so a separate worker reconciles only against a shared gateway (GATEWAY_URL).
  const reconciles = options.sharesGatewayWithApi || platform.config.gatewayUrl !== null
  if (!reconciles) {
    platform.log.warn('payment reconciliation is off, and so are refunds of charges captured after a cancel or twice: a separate worker needs GATEWAY_URL (run the gateway role, and point the api processes at it too)')
  }
  // Events of types not on these lists are left for the build that writes them (a rolling deploy).
  const writtenTypes = [...catalogEvents.types, ...inventoryEvents.types, ...orderEvents.types]
  const dispatcher = new OutboxDispatcher(platform.sql, platform.log, { writtenTypes })
  // Consumers register here as modules gain them (search indexing, notifications, ...).
  // A claimed batch at a time: one index refresh for many products costs about what one
  // does (the dispatcher kept up with about 73 product changes a second one by one).
  dispatcher.onBatch('product.updated', modules.search.onProductsUpdated)
  dispatcher.onBatch('inventory.availability_changed', async (events, tx) => {
    const variantIds = [...new Set(events.map((event) => (event.payload as { variantId: string }).variantId))]
    const productIds = await modules.catalog.invalidateVariants(variantIds, tx)
    // Search's in-stock filter follows stock too.
    await modules.search.refreshProducts(productIds, tx)
    return productIds.length > 0 ? modules.search.announceIndexChange : undefined
  })
  // Most orders a webhook settles come here (it often beats checkout): a batch at a time, one pipelined KV round trip.
  dispatcher.onBatch('order.paid_after_checkout', async (events) => void (await Promise.all(events.map((event) => modules.orders.onPaidAfterCheckout(event)))))
  dispatcher.on('order.cancelled', (event, tx) => modules.orders.onCancelled(event, tx))
  // Paying back a charge that arrived after its order's cancel needs the gateway that took it.
  // A worker without it still takes these events, and fails them: they wait (retried every
  // claim) for a worker that has it. Not heard, they were marked done by the claim, and the
  // customer was never paid back.
  const refunds = <T>(refund: (event: OutboxEvent, tx: Tx) => Promise<T>) => async (event: OutboxEvent, tx: Tx) => {
    if (!reconciles) throw new Error(`${event.type} needs the gateway that took the charge: this worker has no GATEWAY_URL; left for one that has`)
    return refund(event, tx)
  }
  dispatcher.on('order.charge_after_cancel', refunds((event, tx) => modules.orders.onChargeAfterCancel(event, tx)))
  dispatcher.on('order.duplicate_charge', refunds((event, tx) => modules.orders.onDuplicateCharge(event, tx)))
  // With NATS every event also goes to JetStream, for consumers outside this process.
  const publisher = platform.nats ? new JetStreamPublisher(platform.sql, platform.nats, eventStream(platform.config.instance), platform.log) : null
  const housekeepingTasks: HousekeepingTask[] = [
    { name: 'delivered outbox events', run: () => purgeDelivered(platform.sql, { requirePublished: publisher !== null }) },
    { name: 'expired idempotency keys', run: modules.orders.purgeExpiredKeys },
    { name: 'old payment webhook events', run: modules.payments.purgeOldWebhookEvents },
    ...(platform.embedded ? [embeddedVacuumTask(platform.sql)] : []),
  ]
  let housekeeping: { stop(): Promise<void> } | null = null
  return {
    dispatcher,
    publisher,
    start() {
      dispatcher.start()
      publisher?.start()
      if (reconciles) modules.orders.startReconciliation()
      housekeeping = startHousekeeping(housekeepingTasks, { intervalMs: HOUSEKEEPING_INTERVAL_MS, log: platform.log })
    },
    /** One housekeeping round now (tests, and an operator's script). */
    housekeep: () => housekeepingRound(housekeepingTasks, platform.log),
    async stop() {
      modules.orders.stopReconciliation()
      await housekeeping?.stop()
      await dispatcher.stop()
      await publisher?.stop()
      await modules.payments.stop()
    },
  }
}
