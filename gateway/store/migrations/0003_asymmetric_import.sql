-- Key import (BYOK): import parameters and the check value of imported material.
-- (No semicolons inside comments: the migrator splits statements on them.)

-- One row per wrapping key pair handed out by get-parameters-for-import. The row is written
-- before the pair is generated (public_key NULL until then), so a crash leaves a row whose
-- expiry sweep destroys whatever object exists. No foreign key on purpose: a deleted key's rows
-- stay until they expire, so its wrapping objects are still destroyed by the sweep.
CREATE TABLE import_parameters (
    token_id           TEXT PRIMARY KEY,
    key_id             TEXT NOT NULL,
    wrapping_label     TEXT NOT NULL,
    wrapping_algorithm TEXT NOT NULL,
    public_key         BLOB,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
);
CREATE INDEX import_parameters_by_key ON import_parameters (key_id, wrapping_algorithm, expires_at);
CREATE INDEX import_parameters_by_expiry ON import_parameters (expires_at);

-- The key check value of a key's imported material, computed inside the token at its first
-- import (AES-ECB of a fixed block under the unwrapped key), never the material itself: a later
-- re-import must produce the same value. present = 1 while the material is on the token.
CREATE TABLE imported_material (
    key_id            TEXT PRIMARY KEY REFERENCES keys (key_id) ON DELETE CASCADE,
    check_value       BLOB NOT NULL,
    first_imported_at INTEGER NOT NULL,
    present           INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX keys_by_material_expiry ON keys (expiration_time) WHERE expiration_time IS NOT NULL
