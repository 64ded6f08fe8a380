-- Token objects that no key row knows (orphans), with the time reconciliation first saw each.
-- An orphan is reported at once and destroyed only after [gateway] orphan_grace_seconds
-- (docs/recovery.md). A label that stops being an orphan loses its row.
CREATE TABLE orphan_objects (
    label      TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL
);
