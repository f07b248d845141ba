import { Type } from 'typebox'
import type { App } from '../../platform/http/server.ts'
import { requireSession, SESSION_COOKIE } from '../../platform/http/auth.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { Sql } from '../../platform/db/index.ts'
import { customerView, login } from './login.ts'
import { findById } from './repo.ts'
import { SESSION_TTL_MS, type SessionStore } from './sessions.ts'

const LoginBody = Type.Object({
  email: Type.String({ minLength: 3, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 128 }),
  cartId: Type.Optional(Type.String({ maxLength: 100 })),
})

export function customerRoutes(deps: { sql: Sql; sessions: SessionStore }) {
  return async (app: App) => {
    app.post('/store/auth/login', { schema: { tags: ['auth'], body: LoginBody } }, async (request, reply) => {
      const answer = await login(deps, request.body)
      reply.setCookie(SESSION_COOKIE, answer.token, {
        httpOnly: true,
        sameSite: 'lax',
        secure: request.protocol === 'https',
        path: '/',
        maxAge: SESSION_TTL_MS / 1000,
      })
      return answer
    })

    app.post('/store/auth/logout', { schema: { tags: ['auth'] } }, async (request, reply) => {
      const token = request.sessionToken()
      if (token) await deps.sessions.revoke(token)
      reply.clearCookie(SESSION_COOKIE, { path: '/' })
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
