-- Every object of every kind, in one table: the domain model is one shape
-- (metadata + spec + status), so one table keeps paging, sorting, optimistic
-- concurrency and tenancy in one place. `sealed` holds encrypted secret data.
CREATE TABLE objects (
    org              TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    scope            TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    uid              TEXT    NOT NULL UNIQUE,
    resource_version INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    labels           TEXT    NOT NULL,
    annotations      TEXT    NOT NULL,
    spec             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    sealed           BLOB,
    PRIMARY KEY (org, kind, scope, name)
);

CREATE INDEX objects_by_created ON objects (org, kind, scope, created_at);
CREATE INDEX objects_by_kind ON objects (kind, org);

-- References between objects (a statement uses a compute pool, a mapping
-- names a secret), so a delete can refuse while something still points here.
CREATE TABLE refs (
    from_uid TEXT NOT NULL REFERENCES objects (uid) ON DELETE CASCADE,
    org      TEXT NOT NULL,
    kind     TEXT NOT NULL,
    scope    TEXT NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (from_uid, org, kind, scope, name)
);

CREATE INDEX refs_by_target ON refs (org, kind, scope, name);
