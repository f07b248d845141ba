-- The vocabulary also counts the documents' lexemes (kind 'lexeme'), descriptions' included:
-- a typed prefix is expanded through them too, so "clea" finds what "clean" finds (before,
-- only the words of names, brands and categories stood in for a prefix, and typing more
-- letters could find more). Letters and digits only: they are joined into a tsquery.
alter table search.terms drop constraint terms_kind_check;
alter table search.terms add constraint terms_kind_check check (kind in ('name', 'brand', 'word', 'lexeme'));
insert into search.terms (kind, term_key, term, products)
select 'lexeme', word, word, ndoc from ts_stat('select document from search.documents')
where word ~ '^[[:alnum:]]+$'
on conflict (kind, term_key) do nothing;
