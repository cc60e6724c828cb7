CREATE TABLE plans (
    tenant_id   text        NOT NULL,
    id          text        NOT NULL,
    name        text        NOT NULL,
    price_cents bigint      NOT NULL CHECK (price_cents >= 0),
    currency    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE subscriptions (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    plan_id    text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id)
);
-- One active subscription per user.
CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions (tenant_id, user_id) WHERE status = 'active';
CREATE TABLE invoices (
    tenant_id       text        NOT NULL,
    id              uuid        NOT NULL,
    subscription_id uuid        NOT NULL,
    amount_cents    bigint      NOT NULL CHECK (amount_cents >= 0),
    currency        text        NOT NULL,
    status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid')),
    issued_at       timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);
