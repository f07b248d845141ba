// The simulator's memory: payments, and what each idempotency key did. It is a simulator,
// so state lives in this process only (bounded, oldest entries forgotten first).
import { createHash } from 'node:crypto'
import type { WirePayment } from '../wire.ts'

export type Operation = 'authorize' | 'capture' | 'refund'

export interface StoredResponse {
  status: number
  body: unknown
}

export interface PaymentRecord extends WirePayment {
  idempotencyKey: string
}

interface KeyEntry {
  operation: Operation
  fingerprint: string
  paymentId: string | null
  /** null while the first request with this key is still being processed. */
  response: StoredResponse | null
  /** How many times a request with this key was actually carried out (1 when idempotency works). */
  executions: number
}

export type Claim =
  | { kind: 'new' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in_progress' }
  | { kind: 'conflict'; operation: Operation }

export interface KeyStats {
  operation: Operation
  executions: number
  paymentId: string | null
  processing: boolean
}

export class Ledger {
  private readonly payments = new Map<string, PaymentRecord>()
  private readonly keys = new Map<string, KeyEntry>()
  readonly counters = { requests: 0, replays: 0, inProgress: 0, conflicts: 0, injectedFailures: 0 }

  constructor(private readonly maxEntries = 200_000) {}

  /**
   * The idempotency decision for a keyed request, made synchronously so two concurrent
   * requests with one key can never both be 'new'. The same key with different input
   * (another operation, payment or body) is a conflict.
   */
  claim(key: string, operation: Operation, input: unknown): Claim {
    const fingerprint = fingerprintOf(operation, input)
    const entry = this.keys.get(key)
    if (!entry) {
      this.keys.set(key, { operation, fingerprint, paymentId: null, response: null, executions: 1 })
      this.forgetOldest(this.keys)
      return { kind: 'new' }
    }
    if (entry.fingerprint !== fingerprint) {
      this.counters.conflicts++
      return { kind: 'conflict', operation: entry.operation }
    }
    if (entry.response === null) {
      this.counters.inProgress++
      return { kind: 'in_progress' }
    }
    this.counters.replays++
    return { kind: 'replay', response: entry.response }
  }

  /** Ties a key to its payment as soon as there is one, so a lookup by key finds it while processing. */
  attach(key: string, paymentId: string): void {
    const entry = this.keys.get(key)
    if (entry) entry.paymentId = paymentId
  }

  complete(key: string, response: StoredResponse): void {
    const entry = this.keys.get(key)
    if (entry) entry.response = response
  }

  /** The request failed before changing anything: the key may be used again. */
  release(key: string): void {
    this.keys.delete(key)
  }

  keyStats(key: string): KeyStats | null {
    const entry = this.keys.get(key)
    if (!entry) return null
    return { operation: entry.operation, executions: entry.executions, paymentId: entry.paymentId, processing: entry.response === null }
  }

  allKeyStats(): Record<string, KeyStats> {
    return Object.fromEntries([...this.keys.keys()].map((key) => [key, this.keyStats(key)!]))
  }

  paymentForKey(key: string): PaymentRecord | null {
    const paymentId = this.keys.get(key)?.paymentId
    return paymentId ? (this.payments.get(paymentId) ?? null) : null
  }

  addPayment(payment: PaymentRecord): void {
    this.payments.set(payment.id, payment)
    this.forgetOldest(this.payments)
  }

  payment(id: string): PaymentRecord | null {
    return this.payments.get(id) ?? null
  }

  paymentCounts(): Record<string, number> {
    const counts: Record<string, number> = { total: this.payments.size }
    for (const payment of this.payments.values()) counts[payment.status] = (counts[payment.status] ?? 0) + 1
    return counts
  }

  private forgetOldest(map: Map<string, unknown>): void {
    // Maps iterate in insertion order: the first key is the oldest.
    while (map.size > this.maxEntries) map.delete(map.keys().next().value!)
  }
}

/** A hash of the request, so a key reused for something else is caught (and no card number is kept). */
function fingerprintOf(operation: Operation, input: unknown): string {
  return createHash('sha256').update(operation).update('\0').update(stableJson(input)).digest('hex')
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** Public view of a stored payment (the key it was created with stays inside). */
export function wireOf(record: PaymentRecord): WirePayment {
  const { idempotencyKey: _key, ...wire } = record
  return { ...wire }
}
