import type { HousekeepingTask } from '../housekeeping.ts'
import type { Sql } from './index.ts'

/** How often the embedded database is vacuumed and analysed. */
export const EMBEDDED_VACUUM_EVERY_MS = 60 * 60_000

/**
 * The embedded database (PGlite) has no autovacuum: tables that are updated often (stock,
 * orders, the outbox) kept every dead row version and the planner never had statistics
 * (reltuples stayed -1 after a thousand orders). A housekeeping task of the embedded default
 * runs VACUUM (ANALYZE) once every `everyMs` instead: a whole pass over a small shop's
 * database, which PGlite runs on the server's own thread, so not more often.
 */
export function embeddedVacuumTask(sql: Sql, everyMs = EMBEDDED_VACUUM_EVERY_MS): HousekeepingTask & { runs: () => number } {
  let lastAt = Number.NEGATIVE_INFINITY
  let runs = 0
  return {
    name: 'vacuum and analyze (the embedded database has no autovacuum)',
    runs: () => runs,
    async run() {
      const now = Date.now()
      if (now - lastAt < everyMs) return 0
      lastAt = now
      await sql.unsafe('vacuum (analyze)')
      runs++
      return 0 // nothing removed as rows: one pass per round
    },
  }
}
