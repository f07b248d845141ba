import type { Sql } from '../../platform/db/index.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { hashPassword } from './passwords.ts'
import { findByEmail, insertCustomer, promoteToAdmin } from './repo.ts'

/** Creates the admin named by ADMIN_EMAIL/ADMIN_PASSWORD if it does not exist yet. */
export async function ensureAdmin(deps: { sql: Sql; log: Logger }, email: string, password: string): Promise<void> {
  const existing = await findByEmail(deps.sql, email)
  if (existing) {
    // An existing account keeps its password; the setting only guarantees the role.
    if (existing.role !== 'admin') await promoteToAdmin(deps.sql, existing.id)
    return
  }
  const created = await insertCustomer(deps.sql, {
    email,
    passwordHash: await hashPassword(password),
    name: 'Administrator',
    role: 'admin',
    country: null,
    region: 'us',
  })
  if (created) deps.log.info({ email }, 'admin account created')
}
