// The PostgreSQL search index (write side): search.documents and search.terms.
import type postgres from 'postgres'
import type { Db } from '../../platform/db/index.ts'
import type { IndexDocument, SearchIndex } from './engine.ts'

// Two-key advisory locks in a namespace of our own; ids that collide only wait for each other.
const LOCK_NAMESPACE = 20_020

// The weighted document: name A, brand B, category words C, description D. A typed prefix
// ("hiki") is matched through the vocabulary in search.terms ("hiking" -> 'hike').
const DOCUMENT = (db: Db) => db`
  setweight(to_tsvector('english', name), 'A')
  || setweight(to_tsvector('english', brand), 'B')
  || setweight(to_tsvector('english', translate(category_path, '/-', '  ')), 'C')
  || setweight(to_tsvector('english', description), 'D')`

/**
 * A document's lexemes (descriptions' included) that the vocabulary counts: letters and
 * digits only, as words are, since a prefix's completions are joined into a tsquery.
 */
const COUNTED_LEXEME = `^[[:alnum:]]+$`

/**
 * Rows (name, brand, category_path, document, delta) -> +/- counts in search.terms, in key
 * order (no deadlocks). A null document counts no lexemes (the bulk recount reads them
 * with ts_stat instead).
 */
const COUNT_TERMS = (db: Db, changes: postgres.PendingQuery<postgres.Row[]>) => db`
  insert into search.terms as t (kind, term_key, term, products)
  select kind, term_key, min(term), sum(delta) from (
    select 'name' as kind, lower(regexp_replace(btrim(name), '\\s+', ' ', 'g')) as term_key, name as term, delta from (${changes}) c
    union all
    select 'brand', lower(regexp_replace(btrim(brand), '\\s+', ' ', 'g')), brand, delta from (${changes}) c
    union all
    select 'word', word, word, delta from (${changes}) c,
      regexp_split_to_table(lower(name || ' ' || brand || ' ' || translate(category_path, '/-', '  ')), '[^[:alnum:]]+') as word
    where length(word) >= 2
    union all
    select 'lexeme', lexeme, lexeme, delta from (${changes}) c, unnest(tsvector_to_array(c.document)) as lexeme
    where lexeme ~ ${COUNTED_LEXEME}
  ) terms
  group by kind, term_key
  having sum(delta) <> 0
  order by kind, term_key
  on conflict (kind, term_key) do update set products = t.products + excluded.products`

function columns(documents: IndexDocument[]) {
  return {
    ids: documents.map((d) => d.productId),
    slugs: documents.map((d) => d.slug),
    names: documents.map((d) => d.name),
    brands: documents.map((d) => d.brand),
    categories: documents.map((d) => d.category),
    descriptions: documents.map((d) => d.description),
    images: documents.map((d) => d.image),
    currencies: documents.map((d) => d.currency),
    minPrices: documents.map((d) => d.minPrice),
    maxPrices: documents.map((d) => d.maxPrice),
    // As text: postgres.js would send a boolean array as a single boolean.
    inStock: documents.map((d) => (d.inStock ? 'true' : 'false')),
    createdAt: documents.map((d) => d.createdAt),
    updatedAt: documents.map((d) => d.sourceUpdatedAt),
  }
}

/** The documents as a relation, one unnest over column arrays: one statement per batch. */
const INCOMING = (db: Db, documents: IndexDocument[]) => {
  const c = columns(documents)
  return db`
    select * from unnest(
      ${c.ids}::bigint[], ${c.slugs}::text[], ${c.names}::text[], ${c.brands}::text[], ${c.categories}::text[],
      ${c.descriptions}::text[], ${c.images as string[]}::text[], ${c.currencies}::text[], ${c.minPrices}::bigint[],
      ${c.maxPrices}::bigint[], ${c.inStock}::text[]::boolean[], ${c.createdAt}::text[]::timestamptz[], ${c.updatedAt}::text[]::timestamptz[]
    ) as t(product_id, slug, name, brand, category_path, description, image, currency, min_price, max_price,
           in_stock, created_at, source_updated_at)
    order by product_id`
}

const UPSERT = (db: Db, documents: IndexDocument[]) => db`
  insert into search.documents as d (product_id, slug, name, brand, category_path, image, currency,
                                     min_price, max_price, in_stock, created_at, source_updated_at, document)
  select product_id, slug, name, brand, category_path, image, currency,
         min_price, max_price, in_stock, created_at, source_updated_at, ${DOCUMENT(db)}
  from (${INCOMING(db, documents)}) incoming
  on conflict (product_id) do update set
    slug = excluded.slug, name = excluded.name, brand = excluded.brand, category_path = excluded.category_path,
    image = excluded.image, currency = excluded.currency,
    min_price = excluded.min_price, max_price = excluded.max_price, in_stock = excluded.in_stock,
    created_at = excluded.created_at, source_updated_at = excluded.source_updated_at, document = excluded.document
  where d.source_updated_at <= excluded.source_updated_at`

export function pgSearchIndex(db: Db): SearchIndex {
  return {
    async lock(productIds) {
      const ids = [...productIds].sort((a, b) => Number(a) - Number(b))
      await db`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, (id % 2147483647)::int) from unnest(${ids}::bigint[]) as id`
    },

    async apply({ upserts, removals }) {
      if (upserts.length > 0) {
        // `previous` sees the rows as they were before this statement: their completions are
        // taken back for every row actually rewritten. Writers of the same product hold
        // lock() (the event path), so nobody changes them in between.
        await db`
          with previous as (
            select product_id, name, brand, category_path, document from search.documents
            where product_id = any(${upserts.map((u) => u.productId)}::bigint[])
          ),
          written as (${UPSERT(db, upserts)} returning product_id, name, brand, category_path, document),
          changes as (
            select name, brand, category_path, document, 1 as delta from written
            union all
            select p.name, p.brand, p.category_path, p.document, -1 from previous p join written w using (product_id)
          )
          ${COUNT_TERMS(db, db`select * from changes`)}`
      }
      if (removals.length > 0) {
        await db`
          with removed as (
            delete from search.documents where product_id = any(${removals}::bigint[])
            returning name, brand, category_path, document
          )
          ${COUNT_TERMS(db, db`select name, brand, category_path, document, -1 as delta from removed`)}`
      }
    },

    async load(documents) {
      if (documents.length > 0) await UPSERT(db, documents)
    },

    async removeMissing(afterId, throughId, keep) {
      const rows = await db`
        delete from search.documents
        where product_id > ${afterId} ${throughId === null ? db`` : db`and product_id <= ${throughId}`}
          and not (product_id = any(${keep}::bigint[]))
        returning product_id`
      return rows.length
    },

    async finishLoad({ layOut }) {
      const recount = async (tx: Db) => {
        await tx`select set_config('work_mem', '256MB', true)`
        await tx`delete from search.terms`
        // One scan of the documents, read three times by COUNT_TERMS.
        await tx`
          with changes as materialized (select name, brand, category_path, null::tsvector as document, 1 as delta from search.documents)
          ${COUNT_TERMS(tx, tx`select * from changes`)}`
        // The lexemes in one pass over the documents (about 4 s at 1 M products).
        await tx`
          insert into search.terms (kind, term_key, term, products)
          select 'lexeme', word, word, ndoc from ts_stat('select document from search.documents')
          where word ~ ${COUNTED_LEXEME}`
      }
      // In one transaction, so that completions never read an empty table.
      if ('begin' in db) await db.begin(recount)
      else await recount(db)
      // The layout: 64 stripes by product id, each holding every category in turn.
      // - Documents of one category share their words: stored together, a query's matches
      //   sit on 2-3x fewer heap pages. Within a stripe they still are; the 64 seams cost a
      //   query about 5 % more time than one run per category (measured at 1 M products).
      // - A query past the exact limit counts, facets and ranks the first matches in table
      //   order. Clustered by category alone those came from the first categories of the
      //   alphabet ("modern" at 1 M products: 3 of 35 categories in its facets, every result
      //   a hoodie); the first stripes are an even sample of the whole catalog.
      // CLUSTER locks the table while it rewrites it (about 20 s at 1 M).
      if (layOut) await db`cluster search.documents using documents_layout`
      await db`analyze search.documents, search.terms`
    },

    async count() {
      const [row] = await db<{ n: number }[]>`select count(*)::int as n from search.documents`
      return row.n
    },
  }
}
