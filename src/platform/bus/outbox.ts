import { randomUUID } from 'node:crypto'
import type { Db, Sql, Tx } from '../db/index.ts'
import { throttledWarn, type Logger } from '../telemetry/log.ts'
import { deleteBatch } from '../db/delete-batch.ts'
import { pollLoop } from './poll-loop.ts'

export interface OutboxEvent<T = unknown> {
  eventId: string
  type: string
  payload: T
  createdAt: string
}

const CLAIM_SECONDS = 30
/** A failed event waits CLAIM_SECONDS, doubling with each failure, up to this long. */
const MAX_RETRY_WAIT_SECONDS = 15 * 60
/**
 * Failures before an event is set aside as dead (dead_at): 30 s, 1, 2, 4, 8 minutes, then
 * every 15, about four and a half hours in all. A poison event was otherwise retried for ever.
 */
export const MAX_ATTEMPTS = 24
/** How much of a handler's error message the row keeps (last_error). */
const LAST_ERROR_CHARS = 500

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
 * A handler for many events of one type at once (a claimed batch's), in one transaction
 * with their dispatched marks: for work that costs about the same for 1 and for 100 (one
 * index refresh of many products). A failing batch is tried again event by event, so one
 * bad event holds up only itself.
 */
export type BatchHandler = (events: OutboxEvent[], tx: Tx) => Promise<void | AfterCommit>

/**
 * Records an event in the same transaction as the state change it describes, so the
 * event exists exactly when the change does. Payloads carry ids, not whole rows. Modules
 * write through their eventTypes() writer, so every type they write is on their list.
 */
export async function writeEvent(tx: Db, type: string, payload: Record<string, unknown>): Promise<string> {
  const eventId = randomUUID()
  await tx`insert into platform.outbox (event_id, type, payload) values (${eventId}, ${type}, ${tx.json(payload as never)})`
  return eventId
}

/**
 * A module's event types: `write` records one of them (a type off the list does not
 * compile), and `types` tells the worker which events this build writes (OutboxDispatcher's
 * `writtenTypes`). A type a module stops writing stays on its list while its events may
 * still be waiting: a worker leaves types it does not know to a build that does.
 */
export function eventTypes<const T extends readonly string[]>(types: T) {
  return {
    types,
    write: (tx: Db, type: T[number], payload: Record<string, unknown>) => writeEvent(tx, type, payload),
  }
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

/** How often a dispatcher looks for waiting events of types it does not know, and says so. */
const UNKNOWN_TYPES_CHECK_MS = 60_000

export interface DispatcherOptions {
  /**
   * Every event type this build writes (the modules' eventTypes lists). A type written
   * here that no handler hears is done at its claim (it goes to JetStream alone); a type
   * not on the list is left alone, for another build: during a rolling deploy an older
   * worker would otherwise mark a newer build's events delivered, unheard.
   */
  writtenTypes: readonly string[]
  intervalMs?: number
  batchSize?: number
}

/**
 * Delivers committed outbox rows to in-process handlers (the embedded default and the
 * worker role). Delivery is at least once: an event whose handler fails is tried again
 * later, so handlers must be idempotent. Several workers can run: each claims its batch
 * (FOR UPDATE SKIP LOCKED) for CLAIM_SECONDS.
 */
export class OutboxDispatcher {
  private readonly handlers = new Map<string, EventHandler[]>()
  private readonly batchHandlers = new Map<string, BatchHandler>()
  private loop: { stop(): Promise<void> } | null = null
  private readonly writtenTypes: readonly string[]
  private readonly intervalMs: number
  private readonly batchSize: number
  private unknownTypesCheckedAt = -Infinity

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    options: DispatcherOptions,
  ) {
    this.writtenTypes = options.writtenTypes
    this.intervalMs = options.intervalMs ?? 200
    this.batchSize = options.batchSize ?? 100
  }

  on(type: string, handler: EventHandler): void {
    if (this.batchHandlers.has(type)) throw new Error(`${type} has a batch handler: one or the other`)
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler])
  }

  /** The type's events are handled a claimed batch at a time (BatchHandler); its only handler. */
  onBatch(type: string, handler: BatchHandler): void {
    if (this.handlers.has(type) || this.batchHandlers.has(type)) throw new Error(`${type} already has a handler`)
    this.batchHandlers.set(type, handler)
  }

  start(): void {
    // Said at most every 10 s: a database that is away (or not migrated) failed every 200 ms.
    const failed = throttledWarn(this.log, 'outbox dispatch failed; will retry')
    this.loop = pollLoop(this.intervalMs, () => this.dispatchPending(), (error) => failed({ err: error }))
  }

  /** Delivers everything pending now; answers how many events were delivered. */
  async dispatchPending(): Promise<number> {
    const heardTypes = [...this.handlers.keys(), ...this.batchHandlers.keys()]
    const knownTypes = [...new Set([...heardTypes, ...this.writtenTypes])]
    await this.warnOfUnknownTypes(knownTypes)
    let delivered = 0
    for (;;) {
      // Claim a batch for a while (one statement, no transaction held while handlers run).
      // A worker that dies mid-batch leaves the claim to expire; another takes the rows over.
      // Events this build writes that no handler here listens to (order.placed, order.paid
      // ...) are done by the claim itself: marked dispatched in the same update, one row
      // version fewer each (a transaction per event cost the worker about 0.6 ms of CPU).
      // Types this build does not know are not claimed at all.
      const rows = await this.sql<{ id: string; event_id: string; type: string; payload: unknown; created_at: Date; heard: boolean }[]>`
        update platform.outbox
        set claimed_until = now() + ${CLAIM_SECONDS} * interval '1 second',
            dispatched_at = case when type = any(${heardTypes}::text[]) then null else now() end
        where id in (
          select id from platform.outbox
          where dispatched_at is null and (claimed_until is null or claimed_until < now())
            and dead_at is null and type = any(${knownTypes}::text[])
          order by id limit ${this.batchSize}
          for update skip locked)
        returning id, event_id, type, payload, created_at, dispatched_at is null as heard`
      rows.sort((a, b) => Number(a.id) - Number(b.id))
      const heard = rows.filter((row) => row.heard).map(toClaimed)
      delivered += rows.length - heard.length
      for (const [type, batch] of groupByType(heard.filter((c) => this.batchHandlers.has(c.event.type)))) {
        const handler = this.batchHandlers.get(type)!
        if (batch.length > 1 && (await this.deliver(batch, (tx) => handler(batch.map((c) => c.event), tx), { quiet: true }))) {
          delivered += batch.length
          continue
        }
        for (const one of batch) if (await this.deliver([one], (tx) => handler([one.event], tx))) delivered++
      }
      for (const one of heard.filter((c) => !this.batchHandlers.has(c.event.type))) {
        const handlers = this.handlers.get(one.event.type) ?? []
        const run = async (tx: Tx) => {
          const afters: AfterCommit[] = []
          for (const handler of handlers) {
            const after = await handler(one.event, tx)
            if (after) afters.push(after)
          }
          return afters.length === 0 ? undefined : async () => void (await Promise.all(afters.map((after) => after())))
        }
        if (await this.deliver([one], run)) delivered++
      }
      if (rows.length < this.batchSize) return delivered
    }
  }

  /**
   * Says (at most once a minute) which waiting events are of types this build does not
   * know: a newer build's, waiting for its worker, or a type nothing writes any more whose
   * events nobody will take. Reads the pending rows' partial index.
   */
  private async warnOfUnknownTypes(knownTypes: string[]): Promise<void> {
    const now = performance.now()
    if (now - this.unknownTypesCheckedAt < UNKNOWN_TYPES_CHECK_MS) return
    this.unknownTypesCheckedAt = now
    const waiting = await this.sql<{ type: string; events: number }[]>`
      select type, count(*)::int as events from platform.outbox
      where dispatched_at is null and type <> all(${knownTypes}::text[])
      group by type order by type`
    if (waiting.length > 0) {
      this.log.warn({ waiting }, 'outbox events of types this worker does not know are waiting (left for a build that writes them)')
    }
  }

  /**
   * Runs `work` and marks the events dispatched in one transaction, then its after-commit
   * work; answers whether they were delivered. A failure leaves them claimed for a while
   * (retryLater), then they are tried again: a failing event does not spin, and does not
   * hold up the events behind it. `quiet`: a batch whose events are tried one by one next.
   */
  private async deliver(claimed: Claimed[], work: (tx: Tx) => Promise<void | AfterCommit>, options: { quiet?: boolean } = {}): Promise<boolean> {
    let after: void | AfterCommit
    try {
      after = await this.sql.begin(async (tx) => {
        const afterCommit = await work(tx)
        await tx`update platform.outbox set dispatched_at = now() where id = any(${claimed.map((c) => c.id)}::bigint[])`
        return afterCommit
      })
    } catch (error) {
      const events = claimed.map((c) => c.event.eventId)
      if (options.quiet) {
        this.log.debug({ err: error, events }, 'event batch failed; trying its events one by one')
        return false
      }
      const { attempts, dead } = await this.retryLater(claimed, error)
      if (dead) {
        this.log.error(
          { err: error, eventId: events[0], type: claimed[0].event.type, attempts },
          'event handler failed too often: the event is set aside (dead letter); to replay it: update platform.outbox set dead_at = null, attempts = 0 where event_id = ...',
        )
      } else {
        this.log.warn({ err: error, eventId: events[0], type: claimed[0].event.type, attempts }, 'event handler failed; will retry')
      }
      return false
    }
    if (after) await after().catch((error: unknown) => this.log.warn({ err: error, eventId: claimed[0].event.eventId }, 'after-commit work of an event failed'))
    return true
  }

  /**
   * Counts a failure on the events and keeps them claimed CLAIM_SECONDS after the first,
   * twice as long after each next, up to MAX_RETRY_WAIT_SECONDS, and sets them aside as dead
   * at MAX_ATTEMPTS; answers the count and whether they are dead now. If this update cannot
   * be made (the database away), the claim taken runs out as before.
   */
  private async retryLater(claimed: Claimed[], error: unknown): Promise<{ attempts?: number; dead: boolean }> {
    const message = (error instanceof Error ? error.message : String(error)).slice(0, LAST_ERROR_CHARS)
    const rows = await this.sql<{ attempts: number; dead: boolean }[]>`
      update platform.outbox
      set attempts = attempts + 1, last_error = ${message},
          claimed_until = now() + least(${CLAIM_SECONDS} * power(2, attempts), ${MAX_RETRY_WAIT_SECONDS}) * interval '1 second',
          dead_at = case when attempts + 1 >= ${MAX_ATTEMPTS} then now() end
      where id = any(${claimed.map((c) => c.id)}::bigint[])
      returning attempts, dead_at is not null as dead`.catch(() => [])
    return { attempts: rows[0]?.attempts, dead: rows[0]?.dead ?? false }
  }

  async stop(): Promise<void> {
    await this.loop?.stop()
  }
}

interface Claimed {
  id: string
  event: OutboxEvent
}

const toClaimed = (row: { id: string; event_id: string; type: string; payload: unknown; created_at: Date }): Claimed => ({
  id: row.id,
  event: { eventId: row.event_id, type: row.type, payload: row.payload, createdAt: row.created_at.toISOString() },
})

function groupByType(claimed: Claimed[]): Map<string, Claimed[]> {
  const groups = new Map<string, Claimed[]>()
  for (const one of claimed) groups.set(one.event.type, [...(groups.get(one.event.type) ?? []), one])
  return groups
}
