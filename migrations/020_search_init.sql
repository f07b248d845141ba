-- Search owns a read model of the catalog: one row per live product holding its weighted
-- document and every field search filters, sorts, counts and shows, so a query never
-- reaches into catalog.* or inventory.*. It follows product.updated events and is rebuilt
-- by `reindex`. pg_trgm was created by 003.
create schema search;

create table search.documents (
  product_id bigint primary key,
  slug text not null,
  name text not null,
  brand text not null,
  category_path text not null,
  -- The path and its ancestors ('footwear', 'footwear/boots'): facets count every level,
  -- as the filter `category=footwear` includes 'footwear/boots'.
  category_paths text[] not null,
  image text,
  currency text not null,
  -- The shown "from" price; filters, price facets and price sorts all use it.
  min_price bigint not null,
  max_price bigint not null,
  in_stock boolean not null,
  created_at timestamptz not null,
  -- The catalog's updated_at of the indexed state: an older read never overwrites a newer one.
  source_updated_at timestamptz not null,
  -- name A, brand B, category C, description D (see pg-index.ts for how it is built).
  document tsvector not null
);

create index documents_document on search.documents using gin (document);
create index documents_name_trgm on search.documents using gin (name gin_trgm_ops);
create index documents_brand_trgm on search.documents using gin (brand gin_trgm_ops);
create index documents_category on search.documents (category_path text_pattern_ops);
create index documents_brand on search.documents (brand);
-- Keyset orders for browsing without a query text.
create index documents_price on search.documents (min_price, product_id);
create index documents_newest on search.documents (created_at, product_id);

-- Completions (kind name, brand) and the spelling vocabulary (kind word: the words of
-- names, brands and categories), each with how many indexed products carry it. Kept in
-- step with search.documents in the same statements; a count of 0 means "gone".
create table search.terms (
  kind text not null check (kind in ('name', 'brand', 'word')),
  -- lower-cased, whitespace collapsed; "C" collation so that a LIKE 'prefix%' scan and
  -- the ORDER BY both use the primary key.
  term_key text collate "C" not null,
  term text not null,
  products int not null,
  primary key (kind, term_key)
);
create index terms_word_trgm on search.terms using gin (term_key gin_trgm_ops) where kind = 'word';
