-- The search table's physical layout (pg-index.ts, finishLoad): 64 stripes by product id
-- (ids are assigned in creation order, so each stripe holds an even share of every
-- category and every period), each stripe in category order. A bulk first build clusters
-- the table on it.
create index documents_layout on search.documents ((product_id % 64), category_path);
