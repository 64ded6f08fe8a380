-- mTLS: a client certificate bound to a credential (kmsgw certificates bind).
-- fingerprint is the lowercase hex SHA-256 of the certificate's DER encoding. The binding names
-- the credential by its access key, so the caller it yields is that credential's, with its policy.
-- subject and not_after are informational (for `kmsgw certificates list`), the TLS layer checks validity.
CREATE TABLE certificate_bindings (
    fingerprint TEXT PRIMARY KEY,
    access_key  TEXT NOT NULL REFERENCES credentials (access_key) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX certificate_bindings_by_access_key ON certificate_bindings (access_key)
