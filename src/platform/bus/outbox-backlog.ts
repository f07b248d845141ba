// The outbox's backlog as a metric, read at each scrape: events the in-process handlers have
// not taken yet (undelivered), and, with NATS, those JetStream has not stored yet
// (unpublished). A NATS outage, or a stream that cannot be written, shows as a growing
// count here long before anyone misses an event downstream.
import { Gauge } from 'prom-client'
import type { Sql } from '../db/index.ts'
import type { Metrics } from '../telemetry/metrics.ts'

export function registerOutboxBacklog(metrics: Metrics, sql: Sql, options: { published: boolean }): void {
  new Gauge({
    name: 'outbox_backlog_events',
    help: 'Outbox events waiting: undelivered (in-process handlers), dead (set aside after failing too often: replay by hand), unpublished (NATS JetStream, when configured)',
    labelNames: ['state'],
    registers: [metrics.registry],
    // Every API process reads the same table: several processes report the one figure.
    aggregator: 'max',
    async collect() {
      // Both counts read partial indexes of the rows still waiting (outbox_pending, outbox_unpublished).
      const [row] = await sql<{ undelivered: number; dead: number; unpublished: number }[]>`
        select (select count(*) from platform.outbox where dispatched_at is null and dead_at is null)::int as undelivered,
               (select count(*) from platform.outbox where dispatched_at is null and dead_at is not null)::int as dead,
               (select count(*) from platform.outbox where published_at is null)::int as unpublished`.catch(() => [null])
      if (!row) return // PostgreSQL away: the scrape goes on without these
      this.set({ state: 'undelivered' }, row.undelivered)
      // Set aside after failing too often (outbox.ts MAX_ATTEMPTS): each waits for an operator.
      this.set({ state: 'dead' }, row.dead)
      if (options.published) this.set({ state: 'unpublished' }, row.unpublished)
    },
  })
}
