import { pino, type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from '../../config.ts'

export type { Logger }

// Secrets never reach the log: these paths are replaced wherever they appear.
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.card',
  'card',
  // A guest order's access token, a card's parts and secrets, wherever a future log call
  // puts them (nothing logs them today; a log line is not the place to find out).
  'accessToken',
  '*.accessToken',
  'cvc',
  '*.cvc',
  'secret',
  '*.secret',
  'headers["x-order-token"]',
  'req.headers["x-order-token"]',
  // A guest cart's id is its key (whoever holds it may use the cart): log cartRef() instead.
  'cartId',
  '*.cartId',
]

/**
 * A guest cart in a log line: the first 6 characters of its id (36 of its 128 bits), enough
 * to match lines about one cart, not enough to use it.
 */
export const cartRef = (cartId: string) => `${cartId.slice(0, 6)}…`

/** `destination` defaults to stdout; tests pass a stream to read what was logged. */
export function createLogger(level: LogLevel, name = 'shop', destination?: DestinationStream): Logger {
  const options = { name, level, redact: { paths: REDACT, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}

/**
 * A warning that may repeat many times a second while a dependency is down (every cache
 * read failing over, every reconnect attempt): logged at most once per `intervalMs`, with
 * how many were left out since the last one. An outage leaves a trace, not a log storm.
 */
export function throttledWarn(log: Logger, message: string, intervalMs = 10_000): (fields: Record<string, unknown>) => void {
  let lastAt = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return (fields) => {
    const now = Date.now()
    if (now - lastAt < intervalMs) {
      suppressed++
      return
    }
    log.warn({ ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message)
    lastAt = now
    suppressed = 0
  }
}
