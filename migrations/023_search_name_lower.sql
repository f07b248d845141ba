-- A product named exactly what the shopper typed outranks every other match. Past the
-- exact limit relevance ranks only a sample of the matches, so such a product is looked up
-- on its own (pg-search.ts, exactNameItems): this index makes that a key lookup.
create index documents_name_lower on search.documents (lower(name));
