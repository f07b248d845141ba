create schema inventory;
-- Stock per variant. `version` guards every change (optimistic locking): a reservation
-- is one conditional UPDATE ... WHERE version = $v AND available >= $q.
create table inventory.stock (
  variant_id bigint primary key,
  available int not null default 0 check (available >= 0),
  reserved int not null default 0 check (reserved >= 0),
  sold int not null default 0 check (sold >= 0),
  version int not null default 0,
  updated_at timestamptz not null default now()
);
