import type { Sql } from '../../platform/db/index.ts'
import { validationFailed } from '../../platform/http/errors.ts'
import { isReadableUtcTime } from '../../platform/iso-time.ts'
import { orderView } from './order-view.ts'
import { findLinesOf, listOrders } from './repo.ts'
import type { OrderStatus } from './state-machine.ts'

/** `createdAt`: microseconds, as PostgreSQL stores it (listOrders' cursor_time). */
const encode = (createdAt: string, id: string) => Buffer.from(JSON.stringify([createdAt, id])).toString('base64url')

// Microseconds; cursors given out before they were kept carry milliseconds.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.(\d{3}|\d{6})Z$/
/** Order ids are `ord_` and base64url (newOrderId); a NUL or other control character would be a 500 from PostgreSQL. */
const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/

function decode(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string]
    // Only what encode() writes: an ISO time PostgreSQL can read (Date.parse also takes
    // years like +275760, year 0 and Feb 30, which PostgreSQL refuses with a 500).
    const readable = typeof createdAt === 'string' && ISO_TIME.test(createdAt) && isReadableUtcTime(createdAt)
    if (typeof id === 'string' && ORDER_ID.test(id) && readable) {
      return { createdAt, id }
    }
  } catch {}
  throw validationFailed([{ path: 'cursor', message: 'is not a cursor this API gave out' }])
}

/** Newest first, keyset-paged on (created_at, id). */
export async function listOrderPage(sql: Sql, query: { customerId?: string; status?: OrderStatus; limit?: number; cursor?: string }) {
  const limit = query.limit ?? 20
  const rows = await listOrders(sql, {
    customerId: query.customerId,
    status: query.status,
    before: query.cursor ? decode(query.cursor) : undefined,
    limit: limit + 1,
  })
  const page = rows.slice(0, limit)
  // The page's lines in one query, not one per order (a hundred round trips at limit 100).
  const lines = await findLinesOf(sql, page.map((row) => row.id))
  const items = page.map((row) => orderView(row, lines.get(row.id)!))
  const last = page[page.length - 1]
  return { items, nextCursor: rows.length > limit ? encode(last.cursor_time, last.id) : null }
}
