CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email)
);
