import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'
import type { Logger } from '../telemetry/log.ts'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
type LogArgs = unknown[]

/**
 * A request's logger (`request.log`, with the request id bound) that becomes a real pino
 * child only when the request logs at an enabled level. Request logging is off, so a healthy
 * request never logs, and building a pino child for each one (its bindings serialized, its
 * redaction wired) was ~6 % of a cached product read.
 */
class RequestLogger {
  #parent: Logger
  #bindings: Bindings
  #options: ChildLoggerOptions
  #made: Logger | null = null

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #real(): Logger {
    return (this.#made ??= this.#parent.child(this.#bindings, this.#options as never))
  }

  #log(level: Level, args: LogArgs): void {
    // A disabled level costs nothing, as on pino itself.
    if (!this.isLevelEnabled(level)) return
    ;(this.#real()[level] as (...a: LogArgs) => void)(...args)
  }

  get level(): string {
    return this.#made?.level ?? this.#parent.level
  }
  set level(level: string) {
    this.#real().level = level
  }

  // Methods on the prototype: a request's logger is one small object, no closures.
  fatal(...args: LogArgs): void {
    this.#log('fatal', args)
  }
  error(...args: LogArgs): void {
    this.#log('error', args)
  }
  warn(...args: LogArgs): void {
    this.#log('warn', args)
  }
  info(...args: LogArgs): void {
    this.#log('info', args)
  }
  debug(...args: LogArgs): void {
    this.#log('debug', args)
  }
  trace(...args: LogArgs): void {
    this.#log('trace', args)
  }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return (this.#made ?? this.#parent).isLevelEnabled(level)
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options)
  }
}

/** Fastify's childLoggerFactory. A child with a level of its own is made at once. */
export function requestLogger(this: unknown, parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (options.level !== undefined) return parent.child(bindings, options)
  return new RequestLogger(parent as Logger, bindings, options) as unknown as FastifyBaseLogger
}
