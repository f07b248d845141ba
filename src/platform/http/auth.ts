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

export function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || null
  return request.cookies?.[SESSION_COOKIE] ?? null
}

export function registerAuth(app: FastifyInstance, resolve: SessionResolver): void {
  const cache = new WeakMap<FastifyRequest, Promise<Session | null>>()
  app.decorateRequest('sessionToken', function (this: FastifyRequest) {
    return tokenOf(this)
  })
  app.decorateRequest('session', function (this: FastifyRequest) {
    let pending = cache.get(this)
    if (!pending) {
      const token = tokenOf(this)
      pending = token ? resolve(token) : Promise.resolve(null)
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
