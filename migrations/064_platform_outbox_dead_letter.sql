-- An event whose handler has failed MAX_ATTEMPTS times (about four and a half hours of
-- retries) is set aside: dead_at says when. The worker no longer claims it, housekeeping keeps
-- it, the metric counts it, and an operator replays it by clearing dead_at and attempts.
alter table platform.outbox add column dead_at timestamptz;
