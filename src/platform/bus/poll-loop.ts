/**
 * Runs `work` every `intervalMs` after the previous run ended (never two at once), until
 * stopped; stop() waits for a run in progress. A failed run is reported and the loop goes on.
 */
export function pollLoop(intervalMs: number, work: () => Promise<unknown>, onError: (error: unknown) => void): { stop(): Promise<void> } {
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> | null = null
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      running = work()
        .then(() => {}, onError)
        .then(() => {
          running = null
          schedule()
        })
    }, intervalMs)
  }
  schedule()
  return {
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
