// The customers module alone on its own HTTP server, with limits and proxy trust a test
// chooses, over a test app's database, KV and carts (inject() requests, no port).
import type { Config } from '../../src/config.ts'
import { createCustomersModule, type LoginLimits } from '../../src/modules/customers/index.ts'
import { buildHttpServer, type App } from '../../src/platform/http/server.ts'
import { createMetrics } from '../../src/platform/telemetry/metrics.ts'
import type { TestApp } from './app.ts'

export interface CustomersServerOptions {
  loginLimits: Partial<LoginLimits>
  trustProxy?: Config['trustProxy']
}

export async function startCustomersServer(t: TestApp, options: CustomersServerOptions): Promise<App> {
  const customers = createCustomersModule({
    sql: t.platform.sql,
    kv: t.platform.kv,
    log: t.platform.log,
    carts: t.api.modules.cart,
    loginLimits: options.loginLimits,
  })
  return buildHttpServer({
    config: { maxEventLoopDelayMs: 0, trustProxy: options.trustProxy ?? false },
    log: t.platform.log,
    metrics: createMetrics(false),
    readiness: {},
    resolveSession: customers.resolveSession,
    routes: async (app) => {
      await app.register(customers.routes)
    },
  })
}
