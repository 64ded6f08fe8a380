-- Key lifecycle: rotation settings, versions in flight, grants, tags.
-- (No semicolons inside comments: the migrator splits statements on them.)

-- A version row is written before its token object is generated (pending = 1) and settled after,
-- the same crash-safe order as keys.provisioning. A pending row is invisible to crypto because
-- keys.current_version only moves once the object exists.
ALTER TABLE key_versions ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

-- Rotation settings, one row per key that ever had them. The next automatic rotation is due at
-- base_at + interval_days days, base_at being the enable time or the last rotation.
CREATE TABLE key_rotation (
    key_id           TEXT PRIMARY KEY REFERENCES keys (key_id) ON DELETE CASCADE,
    enabled          INTEGER NOT NULL DEFAULT 0,
    interval_days    INTEGER NOT NULL DEFAULT 365,
    base_at          INTEGER NOT NULL,
    last_rotation_at INTEGER,
    rotations        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX key_rotation_enabled ON key_rotation (enabled, base_at) WHERE enabled = 1;

-- Grants: another principal (a user id or a domain id) may use a key for the listed operations.
CREATE TABLE grants (
    grant_id               TEXT PRIMARY KEY,
    key_id                 TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    project_id             TEXT NOT NULL,
    name                   TEXT NOT NULL DEFAULT '',
    grantee_principal      TEXT NOT NULL,
    grantee_principal_type TEXT NOT NULL,
    retiring_principal     TEXT NOT NULL DEFAULT '',
    operations             TEXT NOT NULL,
    issuing_principal      TEXT NOT NULL,
    creation_date          INTEGER NOT NULL
);
CREATE INDEX grants_by_key_grantee ON grants (key_id, grantee_principal);
CREATE INDEX grants_by_key ON grants (key_id, creation_date, grant_id);
CREATE INDEX grants_by_project ON grants (project_id, key_id);
CREATE INDEX grants_by_retiring ON grants (retiring_principal, creation_date, grant_id);

-- Tags: one value per (key, tag key).
CREATE TABLE key_tags (
    key_id     TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    tag_key    TEXT NOT NULL,
    tag_value  TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);
CREATE INDEX key_tags_by_project ON key_tags (project_id, tag_key, tag_value);
