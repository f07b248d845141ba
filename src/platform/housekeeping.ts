// Housekeeping in the worker: tables that only grow (delivered outbox events, expired
// Idempotency-Keys) are trimmed in small batches now and then, so that a Black Friday's
// millions of rows do not stay forever and no single delete holds locks or bloats WAL for long.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Logger } from './telemetry/log.ts'

export interface HousekeepingTask {
  name: string
  /** Deletes one batch; answers how many rows went (0: nothing left to do). */
  run: () => Promise<number>
}

/** Batches per task per round: a backlog is worked off over several rounds, not in one burst. */
const MAX_BATCHES_PER_ROUND = 20

/**
 * One round: each task batch after batch until it has nothing left (or MAX_BATCHES_PER_ROUND).
 * A failing task is logged and left for the next round; the others still run. Answers the
 * rows removed per task.
 */
export async function housekeepingRound(tasks: HousekeepingTask[], log: Logger, shouldStop = () => false): Promise<Record<string, number>> {
  const removed: Record<string, number> = {}
  for (const task of tasks) {
    removed[task.name] = 0
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_ROUND && !shouldStop(); batch++) {
        const n = await task.run()
        removed[task.name] += n
        if (n === 0) break
        await yieldToEventLoop()
      }
    } catch (error) {
      log.warn({ err: error, task: task.name }, 'housekeeping task failed; will retry next round')
    }
    if (removed[task.name] > 0) log.info({ task: task.name, removed: removed[task.name] }, 'housekeeping')
  }
  return removed
}

/** Runs a round every `intervalMs`, the first after one interval; stop() waits for a running round. */
export function startHousekeeping(tasks: HousekeepingTask[], options: { intervalMs: number; log: Logger }): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve()
  let stopped = false
  const timer = setInterval(() => {
    // Never two rounds at once: a slow round delays the next instead of piling up.
    running = running.then(() => (stopped ? undefined : housekeepingRound(tasks, options.log, () => stopped)))
  }, options.intervalMs)
  timer.unref()
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await running.catch(() => {})
    },
  }
}
