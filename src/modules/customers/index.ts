// Customers: accounts, passwords and sessions. Other modules use only what is exported here.
import type { Sql } from '../../platform/db/index.ts'
import type { Kv } from '../../platform/kv/types.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { ensureAdmin } from './ensure-admin.ts'
import type { CartMergePort } from './login.ts'
import { createLoginThrottle, DEFAULT_LOGIN_LIMITS, type LoginLimits } from './login-throttle.ts'
import { customerRoutes } from './routes.ts'
import { findById } from './repo.ts'
import { createSessionStore } from './sessions.ts'

export type { CartMergePort } from './login.ts'
export type { LoginLimits } from './login-throttle.ts'

export interface CustomersDeps {
  sql: Sql
  kv: Kv
  log: Logger
  /** Guest carts merge into the account cart at sign-in. */
  carts: CartMergePort
  /** Sign-in throttling; tests pass small limits. */
  loginLimits?: Partial<LoginLimits>
}

export function createCustomersModule(deps: CustomersDeps) {
  const sessions = createSessionStore(deps.kv)
  const throttle = createLoginThrottle(deps.kv, { ...DEFAULT_LOGIN_LIMITS, ...deps.loginLimits })
  return {
    /**
     * A session as stored, but an admin one with the account's role now: a demoted (or
     * deleted) admin loses the admin routes at once, not when the 7-day session ends. One
     * read per admin request; shoppers' sessions carry no privilege to lose.
     */
    async resolveSession(token: string) {
      const session = await sessions.resolve(token)
      if (!session || session.role !== 'admin') return session
      const customer = await findById(deps.sql, session.customerId)
      if (!customer) return null
      return customer.role === session.role ? session : { ...session, role: customer.role }
    },
    ensureAdmin: (email: string, password: string) => ensureAdmin(deps, email, password),
    routes: customerRoutes({ sql: deps.sql, sessions, throttle, carts: deps.carts }),
    /** A customer's home region (data residency); 'us' for an unknown id. */
    async regionOf(customerId: string): Promise<string> {
      return (await findById(deps.sql, customerId))?.region ?? 'us'
    },
  }
}

export type CustomersModule = ReturnType<typeof createCustomersModule>
