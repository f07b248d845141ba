import { randomUUID } from 'node:crypto'
import type { Db, Sql, Tx } from '../db/index.ts'
import type { Logger } from '../telemetry/log.ts'
import { deleteBatch } from '../db/delete-batch.ts'
import { pollLoop } from './poll-loop.ts'

export interface OutboxEvent<T = unknown> {
  eventId: string
  type: string
  payload: T
  createdAt: string
}

const CLAIM_SECONDS = 30

/**
 * `tx` is the dispatcher's transaction for this one event: an effect written through it
 * commits together with the event's dispatched mark (exactly once). It is also the only
 * way to reach the database from a handler on the embedded PGlite, whose pool holds a
 * single connection.
 */
export type EventHandler = (event: OutboxEvent, tx: Tx) => Promise<void | AfterCommit>

/** What a handler may return: work for after its transaction committed (telling others of the change). */
export type AfterCommit = () => Promise<void>

/**
 * Records an event in the same transaction as the state change it describes, so the
 * event exists exactly when the change does. Payloads carry ids, not whole rows.
 */
export async function writeEvent(tx: Db, type: string, payload: Record<string, unknown>): Promise<string> {
  const eventId = randomUUID()
  await tx`insert into platform.outbox (event_id, type, payload) values (${eventId}, ${type}, ${tx.json(payload as never)})`
  return eventId
}

/** Delivered events stay this long (to look into what happened), then purgeDelivered removes them. */
export const DELIVERED_RETENTION_HOURS = 72

/**
 * Deletes up to `batch` delivered events created before the retention window; answers how
 * many. Never an undelivered one, nor (requirePublished) one not yet in JetStream. The old
 * rows are found through the BRIN index on created_at.
 */
export async function purgeDelivered(sql: Sql, options: { retentionHours?: number; batch?: number; requirePublished?: boolean } = {}): Promise<number> {
  const hours = options.retentionHours ?? DELIVERED_RETENTION_HOURS
  // With NATS, an event must also be in JetStream (jetstream.ts) before it may go.
  const published = options.requirePublished ? sql`and published_at is not null` : sql``
  return deleteBatch(sql, {
    table: 'platform.outbox',
    key: 'id',
    where: sql`created_at < now() - ${hours} * interval '1 hour' and dispatched_at is not null ${published}`,
    limit: options.batch ?? 5000,
  })
}

/**
 * Delivers committed outbox rows to in-process handlers (the embedded default and the
 * worker role). Delivery is at least once: an event whose handler fails is tried again
 * later, so handlers must be idempotent. Several workers can run: each claims its batch
 * (FOR UPDATE SKIP LOCKED) for CLAIM_SECONDS.
 */
export class OutboxDispatcher {
  private readonly handlers = new Map<string, EventHandler[]>()
  private loop: { stop(): Promise<void> } | null = null

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly options = { intervalMs: 200, batchSize: 100 },
  ) {}

  on(type: string, handler: EventHandler): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler])
  }

  start(): void {
    this.loop = pollLoop(this.options.intervalMs, () => this.dispatchPending(), (error) => this.log.warn({ err: error }, 'outbox dispatch failed; will retry'))
  }

  /** Delivers everything pending now; answers how many events were delivered. */
  async dispatchPending(): Promise<number> {
    let delivered = 0
    for (;;) {
      // Claim a batch for a while (one statement, no transaction held while handlers run).
      // A worker that dies mid-batch leaves the claim to expire; another takes the rows over.
      // Events no handler here listens to (order.placed, order.paid ...) are done by the
      // claim itself: marked dispatched in the same update, one row version fewer each (a
      // transaction per event cost the worker about 0.6 ms of CPU).
      const heardTypes = [...this.handlers.keys()]
      const rows = await this.sql<{ id: string; event_id: string; type: string; payload: unknown; created_at: Date; heard: boolean }[]>`
        update platform.outbox
        set claimed_until = now() + ${CLAIM_SECONDS} * interval '1 second',
            dispatched_at = case when type = any(${heardTypes}::text[]) then null else now() end
        where id in (
          select id from platform.outbox
          where dispatched_at is null and (claimed_until is null or claimed_until < now())
          order by id limit ${this.options.batchSize}
          for update skip locked)
        returning id, event_id, type, payload, created_at, dispatched_at is null as heard`
      rows.sort((a, b) => Number(a.id) - Number(b.id))
      const heard = rows.filter((row) => row.heard)
      delivered += rows.length - heard.length
      for (const row of heard) {
        const event = { eventId: row.event_id, type: row.type, payload: row.payload, createdAt: row.created_at.toISOString() }
        try {
          const afterCommit: AfterCommit[] = []
          await this.sql.begin(async (tx) => {
            for (const handler of this.handlers.get(row.type) ?? []) {
              const after = await handler(event, tx)
              if (after) afterCommit.push(after)
            }
            await tx`update platform.outbox set dispatched_at = now() where id = ${row.id}`
          })
          delivered++
          for (const after of afterCommit) {
            await after().catch((error: unknown) => this.log.warn({ err: error, eventId: row.event_id }, 'after-commit work of an event failed'))
          }
        } catch (error) {
          // Stays claimed until the claim runs out, then is tried again: a failing event
          // does not spin, and does not hold up the events behind it.
          this.log.warn({ err: error, eventId: row.event_id, type: row.type }, 'event handler failed; will retry')
        }
      }
      if (rows.length < this.options.batchSize) return delivered
    }
  }

  async stop(): Promise<void> {
    await this.loop?.stop()
  }
}
