-- Housekeeping deletes delivered events past their retention by creation time. Rows arrive
-- in time order, so a BRIN index (a few pages, next to nothing per insert) finds the old
-- block ranges; autosummarize keeps the newest ranges from being scanned every time.
create index outbox_created on platform.outbox using brin (created_at) with (autosummarize = on);
