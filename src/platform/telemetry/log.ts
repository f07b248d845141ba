import { pino, type Logger } from 'pino'
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

export function createLogger(level: LogLevel, name = 'shop'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } })
}
