// The NATS connection, opened in the background. Only the worker's JetStream publisher
// uses NATS, and its events wait in the outbox while NATS is away: an unreachable NATS
// must not stop a process from starting (an API process replaced during a NATS outage
// would die at start, again and again, until its supervisor gave up on the whole API).
import { connect, type NatsConnection } from 'nats'
import { throttledWarn, type Logger } from '../telemetry/log.ts'

export interface NatsLink {
  /** The connection once the first connect succeeded; null until then. */
  current(): NatsConnection | null
  /** Resolves with the connection once there is one (tests, tools). */
  connected(): Promise<NatsConnection>
  close(): Promise<void>
}

const RETRY_MS = 2_000

export function openNatsLink(url: string, name: string, log: Logger): NatsLink {
  let connection: NatsConnection | null = null
  let closed = false
  let retry: NodeJS.Timeout | null = null
  let resolveConnected!: (nats: NatsConnection) => void
  const connectedOnce = new Promise<NatsConnection>((resolve) => (resolveConnected = resolve))
  const failed = throttledWarn(log, 'NATS unreachable; retrying (events wait in the outbox)')

  const attempt = async () => {
    retry = null
    try {
      // Once connected, reconnect for as long as it takes (the client's default gives up
      // after ten tries, about 20 s, and then stays closed until the process restarts).
      const nats = await connect({ servers: url, timeout: 5000, name, maxReconnectAttempts: -1 })
      if (closed) return void (await nats.close())
      connection = nats
      resolveConnected(nats)
    } catch (error) {
      if (closed) return
      failed({ err: error })
      retry = setTimeout(attempt, RETRY_MS)
      retry.unref()
    }
  }
  void attempt()

  return {
    current: () => connection,
    connected: () => connectedOnce,
    async close() {
      closed = true
      if (retry) clearTimeout(retry)
      if (connection) await closeNats(connection)
    },
  }
}

/**
 * Drains the connection (flushes what is buffered), but not forever: with NATS unreachable a
 * drain would wait for a reconnect that may never come, and hold up the shutdown.
 */
async function closeNats(nats: NatsConnection): Promise<void> {
  const timeout = new Promise((resolve) => setTimeout(resolve, 2000).unref())
  await Promise.race([nats.drain().catch(() => {}), timeout])
  if (!nats.isClosed()) await nats.close()
}
