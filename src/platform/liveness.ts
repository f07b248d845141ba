// Which processes are alive: each keeps a short-lived key in the KV while it runs. Work a
// process claimed (an Idempotency-Key's running request) can then be taken over as soon as
// its process is gone, not only after a timeout long enough for the slowest live request.
import { randomBytes } from 'node:crypto'
import type { Kv } from './kv/types.ts'
import type { Logger } from './telemetry/log.ts'

export interface Liveness {
  /** This process's id: random, never reused (a restarted process is another one). */
  readonly id: string
  /**
   * Whether the process with this id still beats. A KV that cannot be asked answers true:
   * unsure is alive, and the caller waits for its timeout instead.
   */
  isAlive(id: string): Promise<boolean>
  stop(): Promise<void>
}

/** A process is taken for dead this long after its last beat... */
export const LIVENESS_TTL_MS = 10_000
/** ...and beats this often: two beats may fail before it is. */
const BEAT_EVERY_MS = 3_000

const keyOf = (id: string) => `alive:${id}`

/** Starts beating (the first beat is written before this answers). */
export async function startLiveness(kv: Kv, log: Logger, options: { ttlMs?: number; everyMs?: number } = {}): Promise<Liveness> {
  const id = randomBytes(9).toString('base64url')
  const ttlMs = options.ttlMs ?? LIVENESS_TTL_MS
  const beat = () => kv.set(keyOf(id), '1', { ttlMs })
  await beat().catch((error) => log.warn({ err: error }, 'could not record this process as alive; will retry'))
  const timer = setInterval(() => {
    beat().catch((error) => log.warn({ err: error }, 'could not record this process as alive; will retry'))
  }, options.everyMs ?? BEAT_EVERY_MS)
  timer.unref()
  return {
    id,
    async isAlive(other) {
      if (other === id) return true
      return (await kv.get(keyOf(other)).catch(() => 'unsure')) !== null
    },
    async stop() {
      clearInterval(timer)
      // A process that stops on purpose finished (or handed back) what it claimed.
      await kv.del(keyOf(id)).catch(() => {})
    },
  }
}
