-- Category facets now credit ancestors after grouping by leaf path (a handful of groups
-- instead of one array per matching row), so the stored ancestor arrays are not needed.
alter table search.documents drop column category_paths;
