// COPY FROM STDIN writer: three reserved connections, one per table, so that products,
// variants and stock stream in parallel. A chunk's variants wait for its products to commit
// (variants.product_id is a foreign key); stock has no foreign key and never waits.
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type postgres from 'postgres'
import type { Sql } from '../platform/db/index.ts'
import type { Chunk } from './generator.ts'
import type { ChunkWriter } from './writer.ts'

type Conn = postgres.ReservedSql

/** Rows per write() on the COPY stream (a few hundred KB). */
const ROWS_PER_PIECE = 1000

const SPECIAL = /[\\\t\n\r]/
const SPECIAL_ALL = /[\\\t\n\r]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** Escapes a value for COPY's text format. */
export function copyText(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (c) => ESCAPES[c]) : value
}

/** Runs tasks on one connection one after another, in the order they were given. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve()
  constructor(readonly conn: Conn) {}

  run<T>(task: (conn: Conn) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => task(this.conn))
    this.tail = result.catch(() => {})
    return result
  }
}

export class CopyFailed extends Error {
  constructor(table: string, cause: unknown) {
    super(`COPY into ${table} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'CopyFailed'
  }
}

/**
 * Streams `rowsAt(from, to)` for rows [0, count) into `table` with one COPY statement and
 * resolves once PostgreSQL has committed it.
 */
export async function copyRows(
  conn: Conn,
  table: string,
  columns: string,
  count: number,
  rowsAt: (from: number, to: number) => string,
): Promise<void> {
  const query = conn.unsafe(`copy ${table} (${columns}) from stdin`)
  let failure: unknown = null
  let settle: { resolve(): void; reject(e: unknown): void } | null = null
  const fail = (error: unknown) => {
    failure ??= error
    settle?.reject(failure)
  }
  const stream: Writable = await query.writable()
  // postgres.js 3.4 resolves the query with the stream and, when the server rejects the COPY
  // after end(), hands the error only to the already-settled query's reject and never
  // finishes the stream (porsager/postgres#1173). Catch it there so the seed cannot hang.
  ;(query as unknown as { reject(error: unknown): void }).reject = fail
  stream.on('error', fail)
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject }
    stream.once('finish', resolve)
    if (failure) reject(failure)
  })
  done.catch(() => {})
  for (let from = 0; from < count && !failure; from += ROWS_PER_PIECE) {
    const ok = stream.write(rowsAt(from, Math.min(count, from + ROWS_PER_PIECE)))
    if (!ok && !failure) await Promise.race([once(stream, 'drain'), done])
  }
  if (!failure) stream.end()
  try {
    await done
  } catch (error) {
    throw new CopyFailed(table, error)
  }
}

function productRows(chunk: Chunk) {
  const p = chunk.products
  return (from: number, to: number): string => {
    let out = ''
    for (let i = from; i < to; i++) {
      out += `${p.id[i]}\t${copyText(p.slug[i])}\t${copyText(p.name[i])}\t${copyText(p.description[i])}\t${copyText(p.brand[i])}\t${copyText(p.category[i])}\t${copyText(p.images[i])}\t${p.createdAt[i]}\t${p.createdAt[i]}\n`
    }
    return out
  }
}

function variantRows(chunk: Chunk) {
  const v = chunk.variants
  return (from: number, to: number): string => {
    let out = ''
    for (let i = from; i < to; i++) {
      out += `${v.id[i]}\t${v.productId[i]}\t${copyText(v.sku[i])}\t${copyText(v.title[i])}\t${v.price[i]}\tUSD\t${v.position[i]}\n`
    }
    return out
  }
}

function stockRows(chunk: Chunk) {
  const v = chunk.variants
  return (from: number, to: number): string => {
    let out = ''
    for (let i = from; i < to; i++) out += `${v.id[i]}\t${v.available[i]}\n`
    return out
  }
}

export async function openCopyWriter(sql: Sql): Promise<ChunkWriter> {
  // Three connections when the pool allows it; otherwise everything on one, in order.
  const parallel = (sql.options.max ?? 1) >= 3
  const conns: Conn[] = []
  try {
    for (let i = 0; i < (parallel ? 3 : 1); i++) conns.push(await sql.reserve())
  } catch (error) {
    for (const conn of conns) conn.release()
    throw error
  }
  const lanes = conns.map((conn) => new Lane(conn))
  const [products, variants, stock] = parallel ? lanes : [lanes[0], lanes[0], lanes[0]]
  return {
    method: 'copy',
    depth: parallel ? 3 : 1,
    write(chunk) {
      const productsDone = products.run((conn) =>
        copyRows(conn, 'catalog.products', 'id, slug, name, description, brand, category_path, images, created_at, updated_at', chunk.count, productRows(chunk)))
      const variantsDone = variants.run(async (conn) => {
        await productsDone
        await copyRows(conn, 'catalog.variants', 'id, product_id, sku, title, price_amount, currency, position', chunk.variants.id.length, variantRows(chunk))
      })
      const stockDone = stock.run((conn) =>
        copyRows(conn, 'inventory.stock', 'variant_id, available', chunk.variants.id.length, stockRows(chunk)))
      return Promise.all([productsDone, variantsDone, stockDone]).then(() => {})
    },
    async close() {
      for (const conn of conns) conn.release()
    },
  }
}
