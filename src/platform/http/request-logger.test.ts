import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { createLogger, type Logger } from '../telemetry/log.ts'
import { requestLogger as fastifyRequestLogger } from './request-logger.ts'

// Fastify types request.log narrowly; what it gets is a whole pino logger.
const requestLogger = (...args: Parameters<typeof fastifyRequestLogger>) => fastifyRequestLogger(...args) as unknown as Logger

function capture(level: 'info' | 'warn') {
  const stream = new PassThrough()
  const lines: Record<string, unknown>[] = []
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line))
  })
  return { log: createLogger(level, 'shop', stream), lines, flushed: () => new Promise((resolve) => setImmediate(resolve)) }
}

describe('the request logger', () => {
  test('makes no pino child until the request logs at an enabled level', async (t) => {
    const { log, lines, flushed } = capture('warn')
    const child = t.mock.method(log, 'child')
    const logger = requestLogger(log, { reqId: 'r-1' }, {})
    logger.info('not enabled at warn')
    logger.debug({ some: 'thing' }, 'nor this')
    assert.equal(child.mock.callCount(), 0)
    assert.equal(logger.level, 'warn', 'the level reads through to the parent')
    assert.equal(logger.isLevelEnabled('info'), false)

    logger.warn({ route: '/x' }, 'request failed')
    logger.error('and again')
    assert.equal(child.mock.callCount(), 1, 'one child, made on the first enabled line')
    await flushed()
    assert.deepEqual(
      lines.map((line) => [line.msg, line.reqId, line.name, line.route]),
      [
        ['request failed', 'r-1', 'shop', '/x'],
        ['and again', 'r-1', 'shop', undefined],
      ],
    )
  })

  test('what it writes is redacted like any other line, and its own children bind more', async () => {
    const { log, lines, flushed } = capture('info')
    const logger = requestLogger(log, { reqId: 'r-2' }, {})
    logger.info({ password: 'hunter22', card: { number: '4242' } }, 'signing in')
    logger.child({ step: 'merge' }).info('merged')
    await flushed()
    assert.equal(lines[0].password, '[redacted]')
    assert.equal(lines[0].card, '[redacted]')
    assert.equal(lines[0].reqId, 'r-2')
    assert.deepEqual([lines[1].reqId, lines[1].step, lines[1].msg], ['r-2', 'merge', 'merged'])
  })

  test('a child with a level of its own is a real pino child at once', () => {
    const { log } = capture('warn')
    const logger = requestLogger(log, { reqId: 'r-3' }, { level: 'debug' })
    assert.equal(logger.level, 'debug')
    assert.equal(logger.isLevelEnabled('debug'), true)
  })
})
