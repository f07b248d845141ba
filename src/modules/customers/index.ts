// Customers: accounts, passwords and sessions. Other modules use only what is exported here.
import type { Sql } from '../../platform/db/index.ts'
import type { Kv } from '../../platform/kv/types.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { ensureAdmin } from './ensure-admin.ts'
import { customerRoutes } from './routes.ts'
import { createSessionStore } from './sessions.ts'

export function createCustomersModule(deps: { sql: Sql; kv: Kv; log: Logger }) {
  const sessions = createSessionStore(deps.kv)
  return {
    resolveSession: sessions.resolve,
    ensureAdmin: (email: string, password: string) => ensureAdmin(deps, email, password),
    routes: customerRoutes({ sql: deps.sql, sessions }),
  }
}

export type CustomersModule = ReturnType<typeof createCustomersModule>
