// COPY FROM STDIN writer: three reserved connections, one per table, so that products,
// variants and stock stream in parallel. A chunk's variants wait for its products to commit
// (variants.product_id is a foreign key); stock has no foreign key and never waits.
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type postgres from 'postgres'
import type { Sql } from '../platform/db/index.ts'
import { generateChunk, OPENING_STOCK, SEED_ACTOR, type CatalogSink, type SeedProduct, type SeedVariant } from './generator.ts'
import type { ChunkWriter } from './writer.ts'

type Conn = postgres.ReservedSql

/** Size of one write() on a COPY stream. */
const PIECE_BYTES = 256 * 1024

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

/** COPY text accumulated in fixed-size buffers: the rows live outside the JS heap until written. */
export class CopyText {
  private readonly pieces: Buffer[] = []
  private buffer: Buffer | null = null
  private used = 0

  /** Appends one line (it must end with a newline). */
  line(text: string): void {
    const most = text.length * 3 // UTF-8 bytes per UTF-16 unit, at most
    if (most > PIECE_BYTES) {
      this.cut()
      this.pieces.push(Buffer.from(text))
      return
    }
    if (this.buffer === null || this.used + most > this.buffer.length) {
      this.cut()
      this.buffer = Buffer.allocUnsafe(PIECE_BYTES)
    }
    this.used += this.buffer.write(text, this.used)
  }

  /** The finished pieces, in order. */
  finish(): Buffer[] {
    this.cut()
    return this.pieces
  }

  private cut(): void {
    if (this.buffer !== null && this.used > 0) this.pieces.push(this.buffer.subarray(0, this.used))
    this.buffer = null
    this.used = 0
  }
}

/** Streams `pieces` into `table` with one COPY statement; resolves once PostgreSQL has committed it. */
export async function copyRows(conn: Conn, table: string, columns: string, pieces: Buffer[]): Promise<void> {
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
  for (const piece of pieces) {
    if (failure) break
    if (!stream.write(piece) && !failure) await Promise.race([once(stream, 'drain'), done])
  }
  if (!failure) stream.end()
  try {
    await done
  } catch (error) {
    throw new CopyFailed(table, error)
  }
}

/** Formats generated rows as COPY text for the three tables. */
class CopySink implements CatalogSink {
  readonly products = new CopyText()
  readonly variants = new CopyText()
  readonly stock = new CopyText()
  /** Each variant's opening stock as its first ledger entry (writer.ts, OPENING_STOCK). */
  readonly ledger = new CopyText()

  product(p: SeedProduct): void {
    this.products.line(`${p.id}\t${copyText(p.slug)}\t${copyText(p.name)}\t${copyText(p.description)}\t${copyText(p.brand)}\t${copyText(p.category)}\t${copyText(p.images)}\t${p.createdAt}\t${p.createdAt}\n`)
  }

  variant(v: SeedVariant): void {
    this.variants.line(`${v.id}\t${v.productId}\t${copyText(v.sku)}\t${copyText(v.title)}\t${v.price}\tUSD\t${v.position}\n`)
    this.stock.line(`${v.id}\t${v.available}\n`)
    this.ledger.line(`${v.id}\t${SEED_ACTOR}\t${OPENING_STOCK}\t${v.available}\n`)
  }
}

const PRODUCT_COLUMNS = 'id, slug, name, description, brand, category_path, images, created_at, updated_at'
const VARIANT_COLUMNS = 'id, product_id, sku, title, price_amount, currency, position'

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
    async write(plan) {
      const rows = new CopySink()
      generateChunk(plan, rows)
      const productsDone = products.run((conn) => copyRows(conn, 'catalog.products', PRODUCT_COLUMNS, rows.products.finish()))
      const variantsDone = variants.run(async (conn) => {
        await productsDone
        await copyRows(conn, 'catalog.variants', VARIANT_COLUMNS, rows.variants.finish())
      })
      const stockDone = stock.run(async (conn) => {
        await copyRows(conn, 'inventory.stock', 'variant_id, available', rows.stock.finish())
        await copyRows(conn, 'inventory.ledger', 'variant_id, actor, reason, delta_available', rows.ledger.finish())
      })
      await Promise.all([productsDone, variantsDone, stockDone])
    },
    async close() {
      for (const conn of conns) conn.release()
    },
  }
}
