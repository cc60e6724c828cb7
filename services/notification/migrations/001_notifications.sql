CREATE TABLE templates (
    tenant_id  text        NOT NULL,
    name       text        NOT NULL,
    channel    text        NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    subject    text        NOT NULL DEFAULT '',
    body       text        NOT NULL,
    version    int         NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE dispatches (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    template   text        NOT NULL,
    channel    text        NOT NULL,
    recipient  text        NOT NULL,
    subject    text        NOT NULL,
    body       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'sent', 'delivered')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
