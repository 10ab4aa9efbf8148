-- Leases: which replica runs the reconcilers. `epoch` grows each time the
-- lease changes hands (or is taken again after it expired), so a write that
-- carries an older epoch is refused. `expires_at` is in ms since the Unix
-- epoch, by the database's clock.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
