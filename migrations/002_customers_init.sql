create schema customers;
create table customers.customers (
  id bigint generated always as identity primary key,
  email text not null unique,
  password_hash text not null,
  name text not null default '',
  role text not null default 'customer' check (role in ('customer', 'admin')),
  country char(2),
  region text not null default 'us',
  created_at timestamptz not null default now()
);
