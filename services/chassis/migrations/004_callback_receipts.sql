-- The answers given to signed callbacks, by the sender's idempotency key: a retried callback
-- gets the same answer and changes nothing. Pruned after a day (CallbackReceiptRetention).
CREATE TABLE IF NOT EXISTS callback_receipts (
    tenant_id       text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_hash    bytea       NOT NULL,
    status          int         NOT NULL,
    response        jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
