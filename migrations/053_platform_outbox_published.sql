-- Events also go to NATS JetStream (platform/bus/jetstream.ts), apart from the in-process
-- handlers' dispatched_at: a NATS outage delays the stream, not search indexing or cache
-- invalidation. Rows written before this column existed predate the stream: not published.
alter table platform.outbox add column published_at timestamptz;
update platform.outbox set published_at = created_at;
create index outbox_unpublished on platform.outbox (id) where published_at is null;
