import type { Sql } from '../../platform/db/index.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { normalizeEmail } from '../../platform/email-address.ts'
import { hashPassword, verifyPassword } from './passwords.ts'
import { findByEmail, insertCustomer, promoteToAdmin } from './repo.ts'

/**
 * Creates the admin named by ADMIN_EMAIL/ADMIN_PASSWORD if it does not exist yet. An existing
 * shopper account with that e-mail becomes admin only when its password is ADMIN_PASSWORD:
 * anyone can register any address, and whoever registered the operator's first would
 * otherwise be made admin (with their own password) at the next start.
 */
export async function ensureAdmin(deps: { sql: Sql; log: Logger }, givenEmail: string, password: string): Promise<void> {
  // As sign-in looks it up: an ADMIN_EMAIL with capitals was stored as given, and never found.
  const email = normalizeEmail(givenEmail)
  const existing = await findByEmail(deps.sql, email)
  if (existing) {
    // An existing account keeps its password; the setting only guarantees the role.
    if (existing.role === 'admin') return
    if (await verifyPassword(existing.password_hash, password)) {
      await promoteToAdmin(deps.sql, existing.id)
      deps.log.info({ email }, 'existing account made admin (its password is ADMIN_PASSWORD)')
    } else {
      deps.log.error(
        { email },
        'ADMIN_EMAIL names a shopper account whose password is not ADMIN_PASSWORD: not made admin (anyone can register an address). Use another ADMIN_EMAIL, or set that account\'s password to ADMIN_PASSWORD',
      )
    }
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
