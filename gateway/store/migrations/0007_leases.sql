-- Leases: which process may run a once-only task (the background sweeps, first-start setup)
-- across every worker and node sharing this store. A holder renews its row before each pass;
-- another process takes the row over only once expires_at (ms epoch) has passed.
-- (No semicolons inside comments: the migrator splits statements on them.)
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
