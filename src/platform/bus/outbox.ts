import { randomUUID } from 'node:crypto'
import type { Db, Sql, Tx } from '../db/index.ts'
import type { Logger } from '../telemetry/log.ts'

export interface OutboxEvent<T = unknown> {
  eventId: string
  type: string
  payload: T
  createdAt: string
}

/**
 * `tx` is the dispatcher's transaction: an effect written through it commits together with
 * the event's dispatched mark (exactly once). It is also the only way to reach the
 * database from a handler on the embedded PGlite, whose pool holds a single connection.
 */
export type EventHandler = (event: OutboxEvent, tx: Tx) => Promise<void>

/**
 * Records an event in the same transaction as the state change it describes, so the
 * event exists exactly when the change does. Payloads carry ids, not whole rows.
 */
export async function writeEvent(tx: Db, type: string, payload: Record<string, unknown>): Promise<string> {
  const eventId = randomUUID()
  await tx`insert into platform.outbox (event_id, type, payload) values (${eventId}, ${type}, ${tx.json(payload as never)})`
  return eventId
}

/**
 * Delivers committed outbox rows to in-process handlers (the embedded default and the
 * worker role). Delivery is at least once: a batch whose handler fails stays pending and
 * is tried again, so handlers must be idempotent. Several workers can run: rows are
 * claimed with FOR UPDATE SKIP LOCKED.
 */
export class OutboxDispatcher {
  private readonly handlers = new Map<string, EventHandler[]>()
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private stopped = true

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly options = { intervalMs: 200, batchSize: 100 },
  ) {}

  on(type: string, handler: EventHandler): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler])
  }

  start(): void {
    this.stopped = false
    this.schedule()
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.dispatchPending()
        .catch((error) => this.log.warn({ err: error }, 'outbox dispatch failed; will retry'))
        .then(() => {
          this.running = null
          this.schedule()
        })
    }, this.options.intervalMs)
  }

  /** Delivers everything pending now; answers how many events were delivered. */
  async dispatchPending(): Promise<number> {
    let delivered = 0
    for (;;) {
      const count = await this.sql.begin(async (tx) => {
        const rows = await tx<{ id: string; event_id: string; type: string; payload: unknown; created_at: Date }[]>`
          select id, event_id, type, payload, created_at from platform.outbox
          where dispatched_at is null order by id limit ${this.options.batchSize}
          for update skip locked`
        for (const row of rows) {
          const event = { eventId: row.event_id, type: row.type, payload: row.payload, createdAt: row.created_at.toISOString() }
          for (const handler of this.handlers.get(row.type) ?? []) await handler(event, tx)
        }
        if (rows.length > 0) {
          await tx`update platform.outbox set dispatched_at = now() where id in ${tx(rows.map((r) => r.id))}`
        }
        return rows.length
      })
      delivered += count
      if (count < this.options.batchSize) return delivered
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.running
  }
}
