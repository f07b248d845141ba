import { randomUUID } from 'node:crypto'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type onRequestHookHandler,
  type preValidationHookHandler,
  type RawServerDefault,
} from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import AjvCompiler from '@fastify/ajv-compiler'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import underPressure from '@fastify/under-pressure'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../../config.ts'
import { throttledWarn, type Logger } from '../telemetry/log.ts'
import type { Metrics } from '../telemetry/metrics.ts'
import { AppError, PATTERN_MESSAGES, problemOf, validationFailed, type FieldError } from './errors.ts'
import { registerAuth, type SessionResolver } from './auth.ts'
import { requestLogger } from './request-logger.ts'
import { API_SECURITY_HEADERS, documentSecurityHeaders } from './security-headers.ts'
import { isDatabaseUnavailable } from '../db/index.ts'
import { clusterMetrics, CLUSTER_METRICS_CONTENT_TYPE } from '../telemetry/cluster-metrics.ts'
import { KvUnavailable } from '../kv/index.ts'
import { unstorable } from '../storable-text.ts'

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>

export interface HttpDeps {
  /** trustProxy: see Config; absent, no proxy is believed. */
  config: Pick<Config, 'maxEventLoopDelayMs'> & Partial<Pick<Config, 'trustProxy' | 'requestDeadlineMs' | 'corsOrigins'>>
  log: Logger
  metrics: Metrics
  /** Named dependency checks for /health/ready; each throws when its dependency is down. */
  readiness: Record<string, () => Promise<void>>
  /** Checks /health/ready shows but does not fail on (a dependency whose outage only delays work). */
  reported?: Record<string, () => Promise<void>>
  resolveSession: SessionResolver
  /** Mounts the modules' routes. */
  routes: (app: App) => Promise<void>
}

// verbose: an error carries the schema that failed, so "not: { const: 0 }" can be said as
// "must not be 0" instead of ajv's "must NOT be valid" (fieldErrorsOf).
const AJV_OPTIONS = { allErrors: true, removeAdditional: false, verbose: true } as const

/**
 * The methods each route path answers, for the 405 of a path asked with another method
 * (`PUT /admin/products/1` answered 404, as if there were no such product). Read only when no
 * route matched, so its linear scan costs a found route nothing.
 */
class MethodsByPath {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = []

  add(url: string, methods: string[]): void {
    // ':id' is one segment; '*' anything. Everything else is itself.
    const source = url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')
    const pattern = new RegExp(`^${source}$`)
    const known = this.routes.find((route) => route.pattern.source === pattern.source)
    const into = known?.methods ?? new Set<string>()
    for (const method of methods) into.add(method)
    if (!known) this.routes.push({ pattern, methods: into })
  }

  of(path: string): string[] {
    const methods = new Set<string>()
    for (const route of this.routes) if (route.pattern.test(path)) for (const method of route.methods) methods.add(method)
    return [...methods].sort()
  }
}

/**
 * Query strings, path parameters and headers are text, so their numbers and booleans are
 * coerced ("?limit=20"; a lone "?brand=x" becomes an array). A JSON body has types of its
 * own and is taken as sent: coercion there turned `null`, `false` and "0x7d0" into numbers
 * (a price of null became 0, a quantity of false removed the line).
 */
function validatorsByPart() {
  const pool = AjvCompiler()
  return (externalSchemas: Parameters<typeof pool>[0], options: { customOptions?: object } = {}) => {
    const text = pool(externalSchemas, { ...options, customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } })
    const json = pool(externalSchemas, { ...options, customOptions: { ...AJV_OPTIONS, coerceTypes: false } })
    return (route: { httpPart?: string }) => {
      if (route.httpPart === 'body') return json(route as never)
      const validate = text(route as never)
      return finiteOnly(validate as Validate) as typeof validate
    }
  }
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null }

/**
 * ajv coerces "1e309" and "Infinity" to Infinity, and then takes it for an integer within
 * any minimum and maximum: `?limit=1e309` reached PostgreSQL and answered 500. A number that
 * text became is finite, or the part is refused naming it.
 */
function finiteOnly(validate: Validate): Validate {
  const checked: Validate = (data) => {
    const valid = validate(data)
    checked.errors = validate.errors
    if (!valid || data === null || typeof data !== 'object') return valid
    for (const [name, value] of Object.entries(data)) {
      const values = Array.isArray(value) ? value : [value]
      if (values.some((v) => typeof v === 'number' && !Number.isFinite(v))) {
        checked.errors = [{ instancePath: `/${name}`, schemaPath: '#', keyword: 'type', params: {}, message: 'must be a finite number' }]
        return false
      }
    }
    return true
  }
  return checked
}

interface QueryProperty {
  type?: string
  pattern?: string
  minLength?: number
  enum?: unknown[]
  format?: string
}

/**
 * A query string as browsers and links send it: a parameter the route does not take
 * (utm_source, fbclid, a "_=" cache-buster added by a script or a mail tool) is dropped, not
 * refused, and an empty one (an HTML form's unfilled field: "category=&limit=") counts as not
 * given, except where the parameter takes empty text (q, cursor). A value given is
 * validated as before: "limit=abc" is still a 400 naming limit. Null for a route without a
 * query schema.
 */
function queryAsSent(schema: unknown): onRequestHookHandler | null {
  const properties = (schema as { properties?: Record<string, QueryProperty> } | undefined)?.properties
  if (!properties) return null
  const takesEmpty = (p: QueryProperty) => p.type === 'string' && p.pattern === undefined && !p.minLength && p.enum === undefined && p.format === undefined
  const keepsEmpty = new Set(Object.keys(properties).filter((key) => takesEmpty(properties[key])))
  return (request, _reply, done) => {
    const query = request.query as Record<string, unknown>
    for (const key of Object.keys(query)) {
      const value = query[key]
      if (!Object.hasOwn(properties, key) || (value === '' && !keepsEmpty.has(key))) delete query[key]
      else if (Array.isArray(value)) {
        const given = value.filter((one) => one !== '')
        if (given.length > 0) query[key] = given
        else delete query[key]
      }
    }
    done()
  }
}

const unstorableError = (found: Unstorable | null) => (found === null ? undefined : validationFailed([{ path: found.path || 'body', message: found.message }]))

interface Unstorable {
  path: string
  message: string
}

/**
 * The first string (or object key) in a parsed request part that PostgreSQL could not
 * store, or null: refused here with its path, instead of a 500 from the database. A loop,
 * not recursion: a body nested 20,000 deep would overflow the stack (a 500) before the
 * schema got to refuse it.
 */
function unstorablePath(root: unknown, rootPath: string): Unstorable | null {
  const pending: [unknown, string][] = [[root, rootPath]]
  while (pending.length > 0) {
    const [value, path] = pending.pop()!
    if (typeof value === 'string') {
      const message = unstorable(value)
      if (message) return { path, message }
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]
        const keyPath = path ? `${path}.${key}` : key
        const message = unstorable(key)
        if (message) return { path: keyPath, message }
        pending.push([child, keyPath])
      }
    }
  }
  return null
}

/** Fastify takes a hop count as a function (its types have no number form). */
function trustedProxies(setting: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting
}

/** The problem code of Fastify's (and its plugins') own 4xx answers, by status. */
const CODE_OF_STATUS: Record<number, string> = { 403: 'forbidden', 404: 'not_found', 413: 'payload_too_large', 415: 'unsupported_media_type' }

/**
 * The largest body a shopper's route reads. Its biggest is a checkout, about a kilobyte; a
 * megabyte of JSON (nested arrays, say) held the event loop over a second while it was parsed
 * and walked, before the schema could refuse it: a few such requests a second from anyone
 * stalled every shopper.
 */
const STORE_BODY_LIMIT = 64 * 1024
/** A merchant's: a product with many variants and long descriptions. Only read once the admin is signed in. */
const ADMIN_BODY_LIMIT = 1024 * 1024

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/
const READY_CHECK_TIMEOUT_MS = 1500
// Liveness and metrics must answer even while the process sheds load, and so must the
// merchant's routes: an overload is when an operator stops a sale, fixes stock or cancels
// orders (few requests; without a session they are a 401 before any body is read).
const NEVER_SHED = ['/health/', '/metrics', '/admin/']
declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route bounds its own time and has its own answer when a dependency is slow (the
     * product page's stale copy, search's timeout and breaker): no request deadline.
     */
    ownDeadline?: true
    /** The route's query string is free text that it cleans of control characters itself (search's q). */
    cleansQueryText?: true
    /**
     * The answers of a route without response schemas, for /openapi.json only (status ->
     * what it means): documented without a schema, so the handler's JSON is sent as it is.
     */
    answers?: Record<number, string>
  }
}

/** Every error answer's body (errors.ts problemOf), for /openapi.json. */
const PROBLEM_DOCUMENT = {
  description: 'An error: application/problem+json with a stable code (validation_failed names each field in errors[]; a refusal that knows when to come back says retryAfter, in seconds, and Retry-After)',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail', 'code'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          code: { type: 'string' },
          instance: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          retryAfter: { type: 'integer' },
        },
        additionalProperties: true,
      },
    },
  },
}

/**
 * /openapi.json: a route's `answers` become its documented responses (else swagger says "200
 * Default Response"), and every route documents the problem+json body of its errors (a
 * generated client knows their shape). For the document only: replies are not serialized
 * through these.
 */
function documentAnswers({ schema, url, route }: { schema: FastifySchema; url: string; route: { config?: { answers?: Record<number, string> } } }) {
  const answers = route.config?.answers ?? {}
  const documented = Object.fromEntries(Object.entries(answers).map(([status, description]) => [status, { description }]))
  return { schema: { ...schema, response: { ...documented, ...(schema?.response as object | undefined), default: PROBLEM_DOCUMENT } }, url }
}

/** The request's deadline timer (onRequest sets it, onResponse clears it). */
const DEADLINE = Symbol('deadline')
/** Answered by the deadline (counted and logged there) or shed (counted by its own metric): onResponse leaves them. */
const ANSWERED_BY = Symbol('answeredBy')
type DeadlineRequest = FastifyRequest & { [DEADLINE]?: NodeJS.Timeout; [ANSWERED_BY]?: 'deadline' | 'shedding' }

export async function buildHttpServer(deps: HttpDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log,
    // One line per failed request (onResponse below) instead of two per request.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    forceCloseConnections: 'idle',
    // request.ip (sign-in throttling) and request.protocol (Secure cookies) from the trusted
    // proxies' X-Forwarded-* headers; untrusted, the headers are ignored.
    trustProxy: trustedProxies(deps.config.trustProxy ?? false),
    return503OnClosing: true,
    // Past the schemas' longest id (100), so a long one gets their 400 naming the field.
    routerOptions: { maxParamLength: 200 },
    // A malformed URL, or a path parameter past maxParamLength: problem+json like every
    // other answer (Fastify's own are plain JSON without the security headers).
    frameworkErrors: (error, request, reply) => {
      reply.headers(API_SECURITY_HEADERS).header('x-request-id', request.id)
      const problem =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new AppError('not_found', 'No such resource (a path segment is too long)')
          : validationFailed([{ path: 'url', message: 'is not a valid URL (bad percent-encoding)' }])
      sendError(problem, request, reply)
    },
    bodyLimit: ADMIN_BODY_LIMIT,
    schemaController: { compilersFactory: { buildValidator: validatorsByPart() } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App

  // The last word on how long a request may take. Every dependency call has its own timeout,
  // but a PostgreSQL that stops answering without closing the connection (a network
  // blackhole) holds a request until TCP gives up, many minutes: statement_timeout fires on
  // the server and its error never arrives. Past the deadline the client gets a 503 now; the
  // work goes on behind it and its late result is dropped (the reply is hijacked). Checkout
  // stays safe to retry: its Idempotency-Key answers the retry with the first result.
  // Routes with `config: { ownDeadline: true }` drop it (dropDeadline): product pages and
  // search have their own fallbacks and limits.
  const deadlineMs = deps.config.requestDeadlineMs ?? 0
  // The hooks below run on every answer, so they take a callback rather than being async
  // functions: no promise per hook per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(API_SECURITY_HEADERS).header('x-request-id', request.id)
    // Here, before any plugin's hooks (an admin check may itself wait on the database); a
    // route with its own deadline drops it again (dropDeadline), which is cheaper than
    // reading the route's options here (Fastify builds request.routeOptions on every read).
    if (deadlineMs > 0) {
      const timer = setTimeout(() => answerPastDeadline(request, reply), deadlineMs)
      timer.unref()
      ;(request as DeadlineRequest)[DEADLINE] = timer
    }
    // "JSON, and nothing" (fetch with the header set on a bodyless POST) is no body: a route
    // that takes none accepts it, one that needs one names what is missing. Fastify's JSON
    // parser would refuse it as "Body cannot be empty".
    // No Content-Length and no Transfer-Encoding is no body as well (RFC 9112, 6.3: curl's
    // DELETE with the header set sends neither).
    const length = request.headers['content-length']
    if (length === '0' || (length === undefined && request.headers['transfer-encoding'] === undefined)) delete request.headers['content-type']
    done()
  })
  function answerPastDeadline(request: FastifyRequest, reply: FastifyReply): void {
    if (reply.sent || reply.raw.headersSent) return
    const route = request.routeOptions.url ?? 'unmatched'
    const detail = request.method === 'GET' ? 'This is taking too long on our side; retry shortly' : 'This is taking too long on our side; retry shortly (with the same Idempotency-Key, a retry is safe)'
    const error = new AppError('unavailable', detail, {}, 503)
    const body = JSON.stringify(problemOf(error, request.url.split('?')[0]))
    const headers = { ...reply.getHeaders(), 'content-type': 'application/problem+json', 'retry-after': '5', 'content-length': Buffer.byteLength(body) }
    reply.hijack()
    ;(request as DeadlineRequest)[ANSWERED_BY] = 'deadline'
    reply.raw.writeHead(503, headers as Record<string, string | number>)
    reply.raw.end(body)
    deps.metrics.httpDuration.observe({ method: request.method, route, status: '503' }, reply.elapsedTime / 1000)
    request.log.warn({ route, deadlineMs }, 'no answer within the request deadline: answered 503, the work goes on behind it')
  }

  // Text PostgreSQL cannot store (U+0000, a lone surrogate: storable-text.ts), a 500 from deep inside a write otherwise: refused
  // before validation, naming where it was: path and query as the request arrives, a body
  // once parsed (on the routes that take one). These hooks are attached per route when it
  // is added, so that no request pays for reading its route's options (Fastify builds
  // request.routeOptions anew on each read: 9 % more CPU on the product page with three).
  const refuseUnstorableInUrl: onRequestHookHandler = (request, _reply, done) => done(unstorableError(unstorablePath(request.params, '') ?? unstorablePath(request.query, '')))
  const refuseUnstorableInPath: onRequestHookHandler = (request, _reply, done) => done(unstorableError(unstorablePath(request.params, '')))
  const dropDeadline: onRequestHookHandler = (request, _reply, done) => {
    clearTimeout((request as DeadlineRequest)[DEADLINE])
    ;(request as DeadlineRequest)[DEADLINE] = undefined
    done()
  }
  const refuseUnstorableInBody: preValidationHookHandler = (request, _reply, done) => done(unstorableError(unstorablePath(request.body, '')))
  const methodsByPath = new MethodsByPath()
  app.addHook('onRoute', (route) => {
    methodsByPath.add(route.url, [route.method].flat())
    // A route without a limit of its own (webhooks have theirs) takes the store's unless it
    // is a merchant's (checked before any body is read: onRequest).
    route.bodyLimit ??= route.url.startsWith('/admin/') ? ADMIN_BODY_LIMIT : STORE_BODY_LIMIT
    const config = route.config ?? {}
    const onRequest = [route.onRequest ?? []].flat()
    const tidyQuery = queryAsSent(route.schema?.querystring)
    if (tidyQuery) onRequest.push(tidyQuery)
    onRequest.push(config.cleansQueryText ? refuseUnstorableInPath : refuseUnstorableInUrl)
    if (config.ownDeadline) onRequest.push(dropDeadline)
    route.onRequest = onRequest
    if ([route.method].flat().every((method) => method === 'GET' || method === 'HEAD')) return
    route.preValidation = [...[route.preValidation ?? []].flat(), refuseUnstorableInBody]
  })

  // While draining, each answer closes its connection: a keep-alive client that is
  // mid-request would otherwise hold the server open until its keep-alive timeout.
  let draining = false
  app.addHook('preClose', async () => {
    draining = true
    app.server.closeIdleConnections()
  })
  const DOCUMENT_HEADERS = documentSecurityHeaders()
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close')
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('text/html')) reply.headers(DOCUMENT_HEADERS)
    // Answers are personal unless a route says otherwise (product pages and search do): no
    // shared or browser cache keeps a session token, an order or a cart.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    done(null, payload)
  })
  // Shedding answers every request for a while: one line per 10 s says so (with a count), the
  // metric counts each. A line per request wrote 26,000 lines in 8 s of a probe's overload.
  const shedWarn = throttledWarn(deps.log, 'overloaded (the event loop lags): shedding requests with 503')
  app.addHook('onResponse', (request, reply, done) => {
    const deadline = (request as DeadlineRequest)[DEADLINE]
    if (deadline) clearTimeout(deadline)
    // A hijacked reply (the deadline's 503) comes here too: it was counted and logged already.
    const answeredBy = (request as DeadlineRequest)[ANSWERED_BY]
    if (answeredBy === 'deadline') return done()
    const route = request.routeOptions.url ?? 'unmatched'
    deps.metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    if (answeredBy === 'shedding') shedWarn({ route })
    else if (reply.statusCode >= 500) request.log.warn({ route, status: reply.statusCode }, 'request failed')
    done()
  })

  // Start-up work (WebAssembly PGlite, JIT warm-up) lags the loop before the first request;
  // shedding counts only from a moment after the server listens.
  let shedFrom = Number.POSITIVE_INFINITY
  app.addHook('onListen', async () => {
    shedFrom = Date.now() + 1000
  })
  await app.register(underPressure, {
    maxEventLoopDelay: deps.config.maxEventLoopDelayMs,
    // Sampled four times a second, so shedding starts within moments of the lag.
    sampleInterval: 250,
    retryAfter: 5,
    pressureHandler: (request: FastifyRequest, reply: FastifyReply) => {
      if (Date.now() < shedFrom || NEVER_SHED.some((prefix) => request.url.startsWith(prefix))) return undefined
      deps.metrics.shedRequests.inc()
      ;(request as DeadlineRequest)[ANSWERED_BY] = 'shedding'
      const error = new AppError('unavailable', 'The server is overloaded; try again shortly', {}, 503)
      reply.code(503).header('retry-after', '5').type('application/problem+json')
      return problemOf(error, request.url)
    },
  } as never)

  await app.register(cookie)
  registerAuth(app, deps.resolveSession)
  // A storefront or admin app on another origin (CORS_ORIGINS) calls with a bearer token:
  // no credentials, so a browser never sends the session cookie cross-origin on its behalf.
  const corsOrigins = deps.config.corsOrigins ?? []
  if (corsOrigins.length > 0) {
    await app.register(cors, {
      origin: corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-none-match', 'x-order-token', 'x-request-id'],
      exposedHeaders: ['etag', 'location', 'retry-after', 'x-request-id'],
      credentials: false,
      maxAge: 600,
    })
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'shop', version: '1', description: 'The public HTTP API of the shop platform' },
      // The session token as a bearer token, or as the sid cookie a browser holds.
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: 'sid' } } },
    },
    transform: documentAnswers as never,
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply))
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    // A path that exists under other methods: 405 with the ones it has (RFC 9110, 15.5.6).
    const allowed = methodsByPath.of(path)
    // A method the path's route answers, sent here all the same, is a thing it has not (a
    // file missing under /docs/static/*): 404, not "answers GET, not GET".
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '))
      return sendError(new AppError('method_not_allowed', `${path} answers ${allowed.join(', ')}, not ${request.method}`, {}, 405), request, reply)
    }
    return sendError(new AppError('not_found', `No route ${request.method} ${path}`), request, reply)
  })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }))
  app.get('/health/ready', { schema: { hide: true } }, async (_request, reply) => {
    const [checks, reported] = await Promise.all([runReadinessChecks(deps.readiness), runReadinessChecks(deps.reported ?? {})])
    const ready = Object.values(checks).every((c) => c === 'ok')
    reply.code(ready ? 200 : 503)
    return { status: ready ? 'ok' : 'unavailable', checks: { ...checks, ...reported } }
  })
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    // Several API processes on one port: the whole machine's, from the cluster's primary.
    const whole = clusterMetrics()
    if (whole) {
      const text = await whole.catch((error: Error) => {
        // A scrape that fails beats one that shows a part as the whole.
        throw new AppError('unavailable', `Metrics could not be gathered from every API process: ${error.message}`, {}, 503)
      })
      reply.type(CLUSTER_METRICS_CONTENT_TYPE)
      return text
    }
    reply.type(deps.metrics.registry.contentType)
    return deps.metrics.registry.metrics()
  })

  await deps.routes(app)
  return app
}

async function runReadinessChecks(checks: Record<string, () => Promise<void>>): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), READY_CHECK_TIMEOUT_MS))),
        ])
        return [name, 'ok']
      } catch (error) {
        return [name, `down: ${(error as Error).message}`]
      } finally {
        clearTimeout(timer)
      }
    }),
  )
  return Object.fromEntries(entries)
}

/** ajv's message, except where it does not say what is wrong. */
function messageOf(issue: NonNullable<FastifyError['validation']>[number]): string {
  const schema = (issue as { schema?: unknown }).schema as { const?: unknown } | undefined
  if (issue.keyword === 'not' && schema && 'const' in schema) return `must not be ${JSON.stringify(schema.const)}`
  const pattern = (issue.params as { pattern?: string } | undefined)?.pattern
  if (issue.keyword === 'pattern' && pattern && PATTERN_MESSAGES[pattern]) return PATTERN_MESSAGES[pattern]
  return issue.message ?? 'is not valid'
}

function fieldErrorsOf(error: FastifyError): FieldError[] {
  // Paths name the field as the client sent it: `variants.0.price`, or `limit` for a query parameter.
  return (error.validation ?? []).map((issue) => {
    const params = (issue.params ?? {}) as Record<string, unknown>
    const segments = issue.instancePath.split('/').filter(Boolean)
    if (typeof params.missingProperty === 'string') segments.push(params.missingProperty)
    if (typeof params.additionalProperty === 'string') segments.push(params.additionalProperty)
    return { path: segments.join('.') || error.validationContext || 'body', message: messageOf(issue) }
  })
}

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  let appError: AppError
  if (error instanceof AppError) {
    appError = error
  } else if ((error as FastifyError).validation) {
    appError = validationFailed(fieldErrorsOf(error as FastifyError))
  } else if (isDatabaseUnavailable(error)) {
    // Nothing was changed (the transaction rolled back) and a retry may well succeed.
    request.log.warn({ err: error }, 'database unavailable')
    appError = new AppError('unavailable', 'The database is not answering in time; retry shortly', {}, 503)
  } else if (error instanceof KvUnavailable) {
    // Redis (carts, sessions) is down or hanging; the command failed at once or timed out.
    request.log.warn({ err: error }, 'key-value store unavailable')
    appError = new AppError('unavailable', 'The cart and session store is not answering; retry shortly', {}, 503)
  } else {
    const status = (error as FastifyError).statusCode ?? 500
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error')
      appError = new AppError('internal_error', 'Something went wrong on our side', {}, status)
    } else {
      // Fastify's own 4xx (malformed JSON, wrong content type, body too large).
      // The static files' too (a path out of /docs/static: 403; a file it has not: 404).
      const code = CODE_OF_STATUS[status] ?? 'bad_request'
      appError = new AppError(code, (error as Error).message, {}, status)
    }
  }
  // A refusal that knows when to come back says so (429 with extra.retryAfter, in seconds).
  if (typeof appError.extra.retryAfter === 'number' && !reply.getHeader('retry-after')) reply.header('retry-after', String(appError.extra.retryAfter))
  if (appError.status === 503 && !reply.getHeader('retry-after')) reply.header('retry-after', '5')
  reply.code(appError.status).type('application/problem+json').send(problemOf(appError, request.url.split('?')[0]))
}
