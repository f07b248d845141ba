create schema orders;

create table orders.orders (
  -- Unguessable (128 random bits): an order id leaks nothing and cannot be enumerated.
  id text primary key,
  number bigint generated always as identity unique,
  status text not null check (status in ('pending_payment', 'paid', 'fulfilled', 'cancelled', 'refunded')),
  customer_id bigint,
  email text not null,
  currency char(3) not null,
  subtotal bigint not null check (subtotal >= 0),
  total bigint not null check (total >= 0),
  shipping_address jsonb not null,
  -- Guests read their order with a token given once; only its hash is kept.
  access_token_hash text,
  -- The key every gateway call for this order's charge carries: retries never charge twice.
  payment_key text not null unique,
  payment_id text,
  region text not null default 'us',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index orders_customer on orders.orders (customer_id, created_at desc) where customer_id is not null;
create index orders_status on orders.orders (status, created_at);

create table orders.order_lines (
  order_id text not null references orders.orders (id) on delete cascade,
  variant_id bigint not null,
  product_id bigint not null,
  name text not null,
  unit_price bigint not null,
  quantity int not null check (quantity > 0),
  line_total bigint not null,
  primary key (order_id, variant_id)
);

-- Every state change, when and by whom.
create table orders.transitions (
  id bigint generated always as identity primary key,
  order_id text not null references orders.orders (id) on delete cascade,
  from_status text,
  to_status text not null,
  actor text not null,
  reason text,
  at timestamptz not null default now()
);
create index transitions_order on orders.transitions (order_id, id);

-- Checkout idempotency: the first answer for a key is the answer for every retry.
create table orders.idempotency_keys (
  key text primary key,
  request_hash text not null,
  state text not null check (state in ('running', 'done')),
  response_status int,
  response_body jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index idempotency_expiry on orders.idempotency_keys (expires_at);
