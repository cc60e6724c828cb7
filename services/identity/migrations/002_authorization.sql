-- A tenant's first admin is created by provisioning (TenantProvisioned names it) with no
-- password: its owner sets one with the one-time setup code, whose SHA-256 is kept here.
ALTER TABLE users ADD COLUMN setup_sha256 text;
-- The Permission aggregate: permissions a tenant grants to its roles (PermissionGranted).
CREATE TABLE role_permissions (
    tenant_id  text        NOT NULL,
    role       text        NOT NULL,
    permission text        NOT NULL,
    granted_by text        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, role, permission)
);
