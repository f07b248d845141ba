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
]

/** `destination` defaults to stdout; tests pass a stream to read what was logged. */
export function createLogger(level: LogLevel, name = 'shop', destination?: DestinationStream): Logger {
  const options = { name, level, redact: { paths: REDACT, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}
