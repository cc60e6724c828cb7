-- Raw activity: client events ingested over HTTP and domain events consumed from Kafka.
CREATE TABLE activity (
    tenant_id   text        NOT NULL,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    user_id     uuid,
    source      text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    properties  jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX activity_by_time ON activity (tenant_id, occurred_at);
CREATE TABLE reports (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    from_time  timestamptz NOT NULL,
    to_time    timestamptz NOT NULL,
    rows       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
