CREATE TABLE tenants (
    id         text        PRIMARY KEY,
    name       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE quotas (
    tenant_id text   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    resource  text   NOT NULL,
    max_value bigint NOT NULL CHECK (max_value >= 0),
    PRIMARY KEY (tenant_id, resource)
);
CREATE TABLE features (
    tenant_id text    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    feature   text    NOT NULL,
    enabled   boolean NOT NULL,
    PRIMARY KEY (tenant_id, feature)
);
