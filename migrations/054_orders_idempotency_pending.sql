-- A checkout whose charge outcome is unknown (202 pending_payment) is answered from the
-- order's state at each retry, not from a stored 202: the key waits in 'pending' until the
-- order settles, and the first retry after that stores the final answer.
alter table orders.idempotency_keys drop constraint idempotency_keys_state_check;
alter table orders.idempotency_keys add constraint idempotency_keys_state_check check (state in ('running', 'pending', 'done'));
