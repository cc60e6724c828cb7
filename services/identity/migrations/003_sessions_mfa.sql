-- Refresh tokens, stored as SHA-256 only. A token is used once: refreshing revokes it and
-- issues its successor (replaced_by); using a revoked one again revokes the whole family.
CREATE TABLE refresh_tokens (
    id           uuid        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    user_id      uuid        NOT NULL,
    family       uuid        NOT NULL,
    token_sha256 text        NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (tenant_id, user_id);
-- TOTP (RFC 6238): the secret, enabled once a code proves the enrolment; the last time step
-- accepted, so a code is not accepted twice.
ALTER TABLE users ADD COLUMN mfa_secret text;
ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN mfa_last_step bigint NOT NULL DEFAULT 0;
