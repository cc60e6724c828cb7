-- The lifecycle projection every service keeps from tenant.events and user.events, so that a
-- suspended tenant or a deactivated user is refused by every service, not only by the one that
-- recorded it (chassis/auth.go).
CREATE TABLE IF NOT EXISTS lifecycle_tenants (
    tenant_id text  PRIMARY KEY,
    status    text  NOT NULL CHECK (status IN ('active', 'suspended')),
    quotas    jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS lifecycle_deactivated (
    tenant_id text NOT NULL,
    user_id   text NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
-- Replicas load the deactivations incrementally, in this order.
ALTER TABLE lifecycle_deactivated ADD COLUMN IF NOT EXISTS seq bigserial;
CREATE INDEX IF NOT EXISTS lifecycle_deactivated_seq ON lifecycle_deactivated (seq);
