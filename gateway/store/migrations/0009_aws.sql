-- The AWS KMS API (docs/aws-kms.md): accounts mapped to projects, AWS access keys (secret sealed by
-- the token like a REST secret key), each key's account, region and key policy, aliases per account
-- and region, grants by principal ARN, and which rotations were asked for on demand.
-- allowed_actions is a comma-separated list of kms: actions, or NULL for every action.
-- Deleting a key deletes its AWS row, aliases, grants and rotation notes.
-- (No semicolons inside comments: the migrator splits statements on them.)
CREATE TABLE aws_accounts (
    account_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE aws_credentials (
    access_key_id   TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES aws_accounts (account_id) ON DELETE CASCADE,
    user_name       TEXT NOT NULL,
    sealed_secret   BLOB NOT NULL,
    allowed_actions TEXT,
    created_at      INTEGER NOT NULL
);

CREATE TABLE aws_keys (
    key_id     TEXT PRIMARY KEY REFERENCES keys (key_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    policy     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX aws_keys_by_region ON aws_keys (account_id, region, created_at, key_id);

CREATE TABLE aws_aliases (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    key_id     TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
);
CREATE INDEX aws_aliases_by_key ON aws_aliases (key_id);

CREATE TABLE aws_grants (
    grant_id           TEXT PRIMARY KEY,
    key_id             TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    name               TEXT NOT NULL DEFAULT '',
    grantee_principal  TEXT NOT NULL,
    retiring_principal TEXT NOT NULL DEFAULT '',
    issuing_account    TEXT NOT NULL,
    operations         TEXT NOT NULL,
    constraints        TEXT NOT NULL DEFAULT '',
    grant_token        TEXT NOT NULL,
    created_at         INTEGER NOT NULL
);
CREATE INDEX aws_grants_by_key ON aws_grants (key_id, grantee_principal);
CREATE INDEX aws_grants_by_retiring ON aws_grants (retiring_principal, created_at, grant_id);
CREATE INDEX aws_grants_by_token ON aws_grants (grant_token);

CREATE TABLE aws_rotations (
    key_id        TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    rotation_type TEXT NOT NULL,
    PRIMARY KEY (key_id, version)
)
