import { AppError } from '../../platform/http/errors.ts'
import type { Sql } from '../../platform/db/index.ts'
import { verifyPassword } from './passwords.ts'
import { findByEmail, type CustomerRow } from './repo.ts'
import type { SessionStore } from './sessions.ts'

export const normalizeEmail = (email: string) => email.trim().toLowerCase()

export function customerView(row: CustomerRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    country: row.country,
    region: row.region,
    createdAt: row.created_at.toISOString(),
  }
}

export type CustomerView = ReturnType<typeof customerView>

/** Checks the password and opens a session; the same answer for an unknown e-mail and a wrong password. */
export async function login(
  deps: { sql: Sql; sessions: SessionStore },
  input: { email: string; password: string },
): Promise<{ token: string; customer: CustomerView }> {
  const row = await findByEmail(deps.sql, normalizeEmail(input.email))
  const ok = await verifyPassword(row?.password_hash ?? null, input.password)
  if (!row || !ok) throw new AppError('unauthorized', 'The e-mail or password is wrong', {}, 401)
  const token = await deps.sessions.create({ customerId: row.id, email: row.email, role: row.role })
  return { token, customer: customerView(row) }
}
