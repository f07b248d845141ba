-- Housekeeping deletes webhook events past their retention by arrival time. Rows arrive in
-- time order, so a BRIN index (as for the outbox) finds the old block ranges cheaply.
create index webhook_events_received on payments.webhook_events using brin (received_at) with (autosummarize = on);
