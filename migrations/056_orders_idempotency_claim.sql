-- Who runs a key's request: '<process id>/<random>', new at each claim. A retry takes a
-- running key over as soon as its process is gone (platform/liveness.ts), and the order's
-- transaction writes the key only while its request still holds it: a request taken for
-- dead that was not can never place a second order under the key.
alter table orders.idempotency_keys add column claim text;
