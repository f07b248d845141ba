import { normalizeEmail } from '../../platform/email-address.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { Sql } from '../../platform/db/index.ts'
import type { LoginThrottle } from './login-throttle.ts'
import { verifyPassword } from './passwords.ts'
import { findByEmail, type CustomerRow } from './repo.ts'
import type { SessionStore } from './sessions.ts'

/**
 * The form an e-mail is stored and looked up in: trimmed, lower-cased and in Unicode NFC.
 * Without NFC, "ü" typed as one character and as u + combining diaeresis were two addresses
 * that look the same: two accounts, and a shopper whose keyboard sends the other form could
 * not sign in.
 */

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

/** A guest cart line that did not move into the account cart (no room, another currency, or being bought). */
export interface UnmergedLine {
  variantId: string
  quantity: number
}

/** What accounts need from the cart module: moving a guest cart into the account cart at sign-in. */
export interface CartMergePort {
  /** Answers the guest lines that did not move (see UnmergedLine); they stay in the guest cart. An account cart (own or another's) is left alone. */
  mergeGuestCart(customerId: string, guestCartId: string): Promise<UnmergedLine[]>
}

export interface SignInDeps {
  sql: Sql
  sessions: SessionStore
  throttle: LoginThrottle
  carts: CartMergePort
}

export interface SignedIn {
  token: string
  customer: CustomerView
  /** Only when some guest cart lines did not move into the account cart: the shopper should hear of them. */
  unmergedLines?: UnmergedLine[]
}

/** Opens a session for a customer whose identity is proven, merging the guest cart first. */
export async function openSession(deps: SignInDeps, row: CustomerRow, cartId: string | undefined): Promise<SignedIn> {
  const unmerged = cartId ? await deps.carts.mergeGuestCart(row.id, cartId) : []
  const token = await deps.sessions.create({ customerId: row.id, email: row.email, role: row.role })
  return { token, customer: customerView(row), ...(unmerged.length > 0 && { unmergedLines: unmerged }) }
}

/**
 * Checks the password and opens a session. An unknown e-mail and a wrong password get the
 * same answer in the same time (argon2 runs either way), and both count towards the limits.
 */
export async function login(
  deps: SignInDeps,
  input: { email: string; password: string; cartId?: string },
  clientIp: string,
  device: string | null = null,
): Promise<SignedIn & { device: string }> {
  const email = normalizeEmail(input.email)
  const budget = await deps.throttle.begin(email, clientIp, device)
  const { row, ok } = await checkPassword(deps.sql, email, input.password).catch(async (error: unknown) => {
    // Never checked (503: the hashing queue is full; the database down): no guess was made.
    await deps.throttle.unchecked(budget, clientIp).catch(() => {})
    throw error
  })
  if (!row || !ok) throw new AppError('unauthorized', 'The e-mail or password is wrong', {}, 401)
  const known = await deps.throttle.succeeded(email, clientIp, budget)
  return { ...(await openSession(deps, row, input.cartId)), device: known }
}

async function checkPassword(sql: Sql, email: string, password: string) {
  const row = await findByEmail(sql, email)
  return { row, ok: await verifyPassword(row?.password_hash ?? null, password) }
}
