-- Every stock change, who made it and why: the audit trail merchants and support ask for.
create table inventory.ledger (
  id bigint generated always as identity primary key,
  variant_id bigint not null,
  at timestamptz not null default now(),
  actor text not null,
  reason text not null,
  delta_available int not null default 0,
  delta_reserved int not null default 0,
  delta_sold int not null default 0,
  order_id text
);
create index ledger_variant on inventory.ledger (variant_id, id);
create index ledger_order on inventory.ledger (order_id) where order_id is not null;

-- At or below this many available units a variant raises inventory.low.
alter table inventory.stock add column low_stock_threshold int not null default 5 check (low_stock_threshold >= 0);
