import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { App } from '../../platform/http/server.ts'
import { crossSiteChange, requireSession, SESSION_COOKIE } from '../../platform/http/auth.ts'
import { clientOf } from '../../platform/http/client-address.ts'
import { AppError, PATTERNS } from '../../platform/http/errors.ts'
import { customerView, login, type SignedIn, type SignInDeps } from './login.ts'
import { DEVICE_TTL_MS, TooManyAttempts } from './login-throttle.ts'
import { register } from './register.ts'
import { findById } from './repo.ts'
import { SESSION_TTL_MS } from './sessions.ts'

const CartId = Type.String({ minLength: 1, maxLength: 100 })
/** A browser's device token: it signed in to an account before (login-throttle.ts). */
const DEVICE_COOKIE = 'did'

const LoginBody = Type.Object({
  email: Type.String({ minLength: 3, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 128 }),
  cartId: Type.Optional(CartId),
})

const RegisterBody = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254 }),
    password: Type.String({ minLength: 8, maxLength: 128, pattern: PATTERNS.notBlank }),
    name: Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.line }),
    country: Type.String({ minLength: 2, maxLength: 2, description: 'ISO 3166-1 alpha-2, e.g. DE' }),
    cartId: Type.Optional(CartId),
  },
  { additionalProperties: false },
)

function sendSignedIn(request: FastifyRequest, reply: FastifyReply, answer: SignedIn): SignedIn {
  reply.setCookie(SESSION_COOKIE, answer.token, {
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
    path: '/',
    maxAge: SESSION_TTL_MS / 1000,
  })
  if (answer.unmergedLines) request.log.info({ customerId: answer.customer.id, lines: answer.unmergedLines.length }, 'guest cart lines were not merged into the account cart')
  return answer
}

export function customerRoutes(deps: SignInDeps) {
  return async (app: App) => {
    app.post('/store/auth/register', { schema: { tags: ['auth'], body: RegisterBody }, config: { answers: { 201: 'Signed in: { token, customer } and the sid cookie', 400: 'validation_failed', 409: 'conflict: the e-mail is registered', 429: 'too_many_requests: too many registrations from this address (Retry-After)' } } }, async (request, reply) => {
      const answer = await register(deps, request.body, clientOf(request.ip)).catch((error: unknown) => {
        if (error instanceof TooManyAttempts) reply.header('retry-after', String(error.retryAfterSeconds))
        throw error
      })
      request.log.info({ customerId: answer.customer.id, region: answer.customer.region }, 'customer registered')
      reply.code(201)
      return sendSignedIn(request, reply, answer)
    })

    app.post('/store/auth/login', { schema: { tags: ['auth'], body: LoginBody } }, async (request, reply) => {
      try {
        const { device, ...answer } = await login(deps, request.body, clientOf(request.ip), request.cookies[DEVICE_COOKIE] ?? null)
        // This browser is known to the account now: wrong passwords typed by others for its
        // e-mail do not lock it out (login-throttle.ts). Only the sign-in route reads it.
        reply.setCookie(DEVICE_COOKIE, device, { httpOnly: true, sameSite: 'lax', secure: request.protocol === 'https', path: '/store/auth/login', maxAge: DEVICE_TTL_MS / 1000 })
        return sendSignedIn(request, reply, answer)
      } catch (error) {
        if (error instanceof TooManyAttempts) {
          request.log.warn({ ip: request.ip, retryAfter: error.retryAfterSeconds }, 'sign-in throttled')
          reply.header('retry-after', String(error.retryAfterSeconds))
        }
        throw error
      }
    })

    app.post('/store/auth/logout', { schema: { tags: ['auth'] }, config: { answers: { 204: 'Signed out (the token is revoked)' } } }, async (request, reply) => {
      // Revoked in the KV at once: the token stops working on the next call, wherever it is used.
      const token = request.sessionToken()
      if (token) await deps.sessions.revoke(token)
      // Another site's page cannot sign the browser out either: its cookie stays, as its session does.
      if (!crossSiteChange(request)) reply.clearCookie(SESSION_COOKIE, { path: '/' })
      reply.code(204)
    })

    app.get('/store/customers/me', { schema: { tags: ['customers'] } }, async (request) => {
      const session = await requireSession(request)
      const row = await findById(deps.sql, session.customerId)
      if (!row) throw new AppError('unauthorized', 'The account no longer exists')
      return customerView(row)
    })
  }
}
