-- Keys, their versions (one token object each), and the callers' credentials and tokens.
CREATE TABLE keys (
    key_id                  TEXT PRIMARY KEY,
    project_id              TEXT NOT NULL,
    domain_id               TEXT NOT NULL,
    key_alias               TEXT NOT NULL,
    key_description         TEXT NOT NULL DEFAULT '',
    key_spec                TEXT NOT NULL,
    key_usage               TEXT NOT NULL,
    origin                  TEXT NOT NULL,
    key_state               INTEGER NOT NULL,
    creation_date           INTEGER NOT NULL,
    scheduled_deletion_date INTEGER,
    default_key_flag        INTEGER NOT NULL DEFAULT 0,
    realm                   TEXT NOT NULL DEFAULT '',
    current_version         INTEGER NOT NULL DEFAULT 1,
    expiration_time         INTEGER,
    provisioning            INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project_id, key_alias)
);
CREATE INDEX keys_by_project ON keys (project_id, creation_date, key_id);
CREATE INDEX keys_by_deletion ON keys (scheduled_deletion_date) WHERE scheduled_deletion_date IS NOT NULL;

CREATE TABLE key_versions (
    key_id     TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE projects (
    project_id TEXT PRIMARY KEY,
    domain_id  TEXT NOT NULL
);

CREATE TABLE credentials (
    access_key    TEXT PRIMARY KEY,
    sealed_secret BLOB NOT NULL,
    project_id    TEXT NOT NULL,
    domain_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE auth_tokens (
    token_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    domain_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
