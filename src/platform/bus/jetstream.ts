// The outbox's second relay: every committed event goes to a NATS JetStream stream (DESIGN.md:
// order events through JetStream, durable, deduplicated by message id), for consumers outside
// this process: other services, the flash-sale queue, analytics. The in-process handlers
// (outbox.ts) run apart from it, so a NATS outage holds up the stream and nothing else.
import { nanos, RetentionPolicy, StorageType, type JetStreamClient, type NatsConnection } from 'nats'
import type { Sql } from '../db/index.ts'
import { throttledWarn, type Logger } from '../telemetry/log.ts'
import { pollLoop } from './poll-loop.ts'

export interface EventStream {
  /** The stream's name: `<INSTANCE>_events`. */
  name: string
  /** The subject of an event type: `<instance>.events.<type>`. */
  subjectOf(type: string): string
}

export function eventStream(instance: string): EventStream {
  return { name: `${instance}_events`, subjectOf: (type) => `${instance}.events.${type}` }
}

/**
 * JetStream drops a message whose id it has seen within this window: a batch republished
 * after its acks came back but its mark was lost (a crash between the two), or after its
 * acks were lost (NATS half away), is stored once. Its default, 2 minutes, was shorter than
 * a NATS restart with acknowledgements lost: the events sent again were stored twice. NATS
 * keeps the ids of the window in memory: 20 minutes of a peak's 500 events a second is
 * 600,000 ids, tens of MB. Past it a republished event may be stored twice (the publisher
 * says so in the log): consumers dedupe by event id, as the in-process ones do.
 */
export const DUPLICATE_WINDOW_MS = 20 * 60_000
/** Consumers have this long to read an event before the stream lets it go. */
const RETENTION_DAYS = 7

/** Creates the stream, or updates its settings when it exists. */
export async function ensureEventStream(nats: NatsConnection, stream: EventStream): Promise<void> {
  const jsm = await nats.jetstreamManager({ timeout: 5000 })
  const config = {
    name: stream.name,
    subjects: [stream.subjectOf('>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(RETENTION_DAYS * 24 * 3600 * 1000),
  }
  try {
    await jsm.streams.info(stream.name)
    await jsm.streams.update(stream.name, config)
  } catch (error) {
    if (!/stream not found/i.test(String((error as Error).message))) throw error
    await jsm.streams.add(config)
  }
}

/**
 * Deletes an instance's stream (a test's or a bench run's, on a shared NATS server). A stream
 * never created (nothing was published), or NATS away: nothing to clean up, no error.
 */
export async function deleteEventStream(nats: NatsConnection, instance: string): Promise<void> {
  try {
    const jsm = await nats.jetstreamManager({ timeout: 3000 })
    await jsm.streams.delete(eventStream(instance).name)
  } catch {
    // Nothing to clean up.
  }
}

export interface PublisherOptions {
  intervalMs?: number
  batchSize?: number
  /** Per publish, waiting for JetStream's acknowledgement. */
  ackTimeoutMs?: number
}

/**
 * Session advisory lock held by the one worker publishing at a time. Not row locks: those
 * would be held while waiting for JetStream's acknowledgements (up to the ack timeout when
 * NATS hangs), and the dispatcher skips locked rows, so a stalled NATS would hold up search
 * indexing and cache invalidation.
 */
const PUBLISHER_LOCK = 'platform.outbox:jetstream-publisher'

/**
 * Publishes unpublished outbox rows in id order, each with its event id as the message id,
 * and marks them published once JetStream acknowledged them all (stored durably). One worker
 * publishes at a time (PUBLISHER_LOCK; the others find it taken and skip their turn), in id
 * order of the rows committed by then: a transaction that commits after a higher id went out
 * is published after it (ids are taken before commit), so consumers that care order by the
 * event's time per entity. If the marks are lost (a crash between the acks and the update),
 * the republished messages are dropped as duplicates (within DUPLICATE_WINDOW_MS).
 */
export class JetStreamPublisher {
  private js: JetStreamClient | null = null
  private loop: { stop(): Promise<void> } | null = null
  private ensured = false
  private readonly failed: (fields: Record<string, unknown>) => void
  private readonly log: Logger
  /** When publishing first failed since it last went through: events sent again after the duplicate window may be stored twice. */
  private failingSince: number | null = null
  private readonly o: Required<PublisherOptions>

  constructor(
    private readonly sql: Sql,
    /** The connection once there is one (platform's NatsLink): NATS may be away at start. */
    private readonly nats: { current(): NatsConnection | null },
    private readonly stream: EventStream,
    log: Logger,
    options: PublisherOptions = {},
  ) {
    this.o = { intervalMs: 200, batchSize: 200, ackTimeoutMs: 5000, ...options }
    this.failed = throttledWarn(log, 'publishing outbox events to JetStream failed; will retry')
    this.log = log
  }

  start(): void {
    this.loop = pollLoop(
      this.o.intervalMs,
      async () => {
        const published = await this.publishPending()
        if (this.failingSince !== null && published > 0) {
          const failedForMs = Date.now() - this.failingSince
          if (failedForMs > DUPLICATE_WINDOW_MS) {
            this.log.warn({ failedForMs, duplicateWindowMs: DUPLICATE_WINDOW_MS }, 'JetStream publishing is back after longer than its duplicate window: events sent before the outage and again now may be stored twice (consumers dedupe by event id)')
          }
        }
        this.failingSince = null
      },
      (error) => {
        this.failingSince ??= Date.now()
        this.failed({ err: error })
      },
    )
  }

  /** Publishes everything pending now; answers how many events went out. */
  async publishPending(): Promise<number> {
    const nats = this.nats.current()
    if (!nats) throw new Error('NATS is not connected yet')
    if (!this.ensured) {
      // Here, not at start: NATS may be down when the worker starts, and this is retried.
      await ensureEventStream(nats, this.stream)
      this.ensured = true
    }
    // One client for the connection, which reconnects by itself (the object stays).
    this.js ??= nats.jetstream({ timeout: this.o.ackTimeoutMs })
    const connection = await this.sql.reserve()
    try {
      const [{ locked }] = await connection<{ locked: boolean }[]>`select pg_try_advisory_lock(hashtext(${PUBLISHER_LOCK})) as locked`
      if (!locked) return 0
      try {
        return await this.publishBatches(connection)
      } catch (error) {
        // The stream may be gone: NATS came back without its storage, or someone deleted it.
        // A publish then finds no stream (503, no responders) for ever: the next try makes
        // sure of it again (one lookup), and the waiting events go out then.
        this.ensured = false
        throw error
      } finally {
        await connection`select pg_advisory_unlock(hashtext(${PUBLISHER_LOCK}))`
      }
    } finally {
      connection.release()
    }
  }

  private async publishBatches(sql: Sql): Promise<number> {
    let published = 0
    for (;;) {
      const rows = await sql<{ id: string; event_id: string; type: string; payload: unknown; created_at: Date }[]>`
        select id, event_id, type, payload, created_at from platform.outbox
        where published_at is null order by id limit ${this.o.batchSize}`
      if (rows.length === 0) return published
      // Sent together, in order, on one connection: the stream stores them in that order.
      // The message is the whole event (OutboxEvent), its id also the message id.
      await Promise.all(
        rows.map((row) => {
          const event = { eventId: row.event_id, type: row.type, payload: row.payload, createdAt: row.created_at.toISOString() }
          return this.js!.publish(this.stream.subjectOf(row.type), JSON.stringify(event), { msgID: row.event_id })
        }),
      )
      await sql`update platform.outbox set published_at = now() where id in ${sql(rows.map((row) => row.id))}`
      published += rows.length
      if (rows.length < this.o.batchSize) return published
    }
  }

  async stop(): Promise<void> {
    await this.loop?.stop()
  }
}
