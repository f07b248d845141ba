import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from './errors.ts'

export interface Session {
  customerId: string
  email: string
  role: 'customer' | 'admin'
  /** Hash of the session token, the session's key in the KV. */
  sessionKey: string
}

/** Looks a bearer/cookie token up; null when unknown or expired. Owned by the customers module. */
export type SessionResolver = (token: string) => Promise<Session | null>

export const SESSION_COOKIE = 'sid'

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in customer, or null. Resolved once per request, on first use. */
    session(): Promise<Session | null>
    sessionToken(): string | null
  }
}

/**
 * The token of an `Authorization: Bearer` header. The scheme's name is case-insensitive (RFC
 * 9110, 11.1): read as `Bearer` only, a client sending `bearer` went on as a guest, and its
 * shopper's checkout placed a guest order. Another scheme (Basic, from a proxy guarding a
 * staging site) is none of ours: ignored.
 */
function bearerOf(request: FastifyRequest): string | null {
  const match = /^bearer +(.*)$/i.exec(request.headers.authorization ?? '')
  return match ? match[1].trim() || null : null
}

export function tokenOf(request: FastifyRequest): string | null {
  return bearerOf(request) ?? (crossSiteChange(request) ? null : request.cookies?.[SESSION_COOKIE]) ?? null
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * A change asked for from another site's page (a form posted to /admin/orders/{id}/refund
 * while a merchant is signed in here): the browser sends the session cookie along, so the
 * cookie does not count for it; the request goes on signed out. SameSite=Lax alone let a
 * sibling subdomain, or a browser that ignores SameSite, refund orders in the merchant's
 * name. Browsers say where a request comes from (Sec-Fetch-Site); only this origin's own
 * pages, or the user typing the address, are the user. A bearer token is never sent by a
 * browser on its own, and clients that send no Sec-Fetch-Site (curl, apps) are not pages.
 */
export function crossSiteChange(request: FastifyRequest): boolean {
  if (SAFE_METHODS.has(request.method)) return false
  const site = request.headers['sec-fetch-site']
  return site !== undefined && site !== 'same-origin' && site !== 'none'
}

/**
 * A bearer token sent on purpose but no longer valid (expired, revoked, never issued) is a
 * 401 (RFC 6750, invalid_token) wherever the session is read, even where a guest may go on
 * (a guest cart's reads and changes need no session and do not read it):
 * a shopper whose session ended would otherwise check out as a guest, and the order would
 * not be in their account. A stale cookie is only a browser remembering an old sign-in: that
 * request goes on signed out, as on any site.
 */
const invalidBearer = () =>
  new AppError('unauthorized', 'The bearer token is expired, revoked or unknown: sign in again, or send no token to go on as a guest', {
    errors: [{ path: 'authorization', message: 'is not a valid session token' }],
  })

export function registerAuth(app: FastifyInstance, resolve: SessionResolver): void {
  const cache = new WeakMap<FastifyRequest, Promise<Session | null>>()
  app.decorateRequest('sessionToken', function (this: FastifyRequest) {
    return tokenOf(this)
  })
  app.decorateRequest('session', function (this: FastifyRequest) {
    let pending = cache.get(this)
    if (!pending) {
      const bearer = bearerOf(this)
      const token = bearer ?? tokenOf(this)
      pending = !token
        ? Promise.resolve(null)
        : resolve(token).then((session) => {
            if (!session && bearer) throw invalidBearer()
            return session
          })
      cache.set(this, pending)
    }
    return pending
  })
}

export async function requireSession(request: FastifyRequest): Promise<Session> {
  const session = await request.session()
  if (!session) throw new AppError('unauthorized', 'Sign in to do this')
  return session
}

export async function requireAdmin(request: FastifyRequest): Promise<Session> {
  const session = await requireSession(request)
  if (session.role !== 'admin') throw new AppError('forbidden', 'This needs an admin account')
  return session
}
