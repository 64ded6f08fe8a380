-- AWS KMS External Key Store (docs/xks.md): keystores, their SigV4 credentials and key mappings.
-- uri_prefix is the keystore's path prefix, '' or '/segment[/segment...]' (it is the key: one
-- prefix, one keystore). A credential's secret is sealed by the token like a REST secret key.
-- key_usage is 'ENCRYPT,DECRYPT', 'ENCRYPT', 'DECRYPT' or '' (none), enforced by the gateway.
-- Deleting a keystore deletes its credentials and mappings, deleting a key its mappings.
-- (No semicolons inside comments: the migrator splits statements on them.)
CREATE TABLE xks_keystores (
    uri_prefix TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE xks_credentials (
    access_key_id TEXT PRIMARY KEY,
    uri_prefix    TEXT NOT NULL REFERENCES xks_keystores (uri_prefix) ON DELETE CASCADE,
    sealed_secret BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX xks_credentials_by_keystore ON xks_credentials (uri_prefix);

CREATE TABLE xks_keys (
    uri_prefix TEXT NOT NULL REFERENCES xks_keystores (uri_prefix) ON DELETE CASCADE,
    xks_key_id TEXT NOT NULL,
    key_id     TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    key_usage  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (uri_prefix, xks_key_id)
);
CREATE INDEX xks_keys_by_key ON xks_keys (key_id)
