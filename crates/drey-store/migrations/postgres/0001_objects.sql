-- The same shape as the SQLite schema (migrations/sqlite/): one table for
-- every object, one for references between objects. Keys and timestamps use
-- the "C" collation so names sort byte-wise as on SQLite; timestamps are
-- fixed-width RFC 3339 text, so text order is time order. spec, status,
-- labels and annotations stay JSON *text*: jsonb would reorder keys, and drey
-- keeps a spec as given. `generation` and `spec_version` carry the version
-- rule (docs/architecture.md, "The store").
CREATE TABLE objects (
    org              TEXT COLLATE "C" NOT NULL,
    kind             TEXT COLLATE "C" NOT NULL,
    scope            TEXT COLLATE "C" NOT NULL,
    name             TEXT COLLATE "C" NOT NULL,
    uid              TEXT   NOT NULL UNIQUE,
    resource_version BIGINT NOT NULL,
    generation       BIGINT NOT NULL,
    spec_version     BIGINT NOT NULL,
    created_at       TEXT COLLATE "C" NOT NULL,
    updated_at       TEXT COLLATE "C" NOT NULL,
    labels           TEXT   NOT NULL,
    annotations      TEXT   NOT NULL,
    spec             TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    sealed           BYTEA,
    PRIMARY KEY (org, kind, scope, name)
);

CREATE INDEX objects_by_created ON objects (org, kind, scope, created_at);
CREATE INDEX objects_by_kind ON objects (kind, org);

CREATE TABLE refs (
    from_uid TEXT NOT NULL REFERENCES objects (uid) ON DELETE CASCADE,
    org      TEXT COLLATE "C" NOT NULL,
    kind     TEXT COLLATE "C" NOT NULL,
    scope    TEXT COLLATE "C" NOT NULL,
    name     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (from_uid, org, kind, scope, name)
);

CREATE INDEX refs_by_target ON refs (org, kind, scope, name);

-- A field inside a JSON document typed the way SQLite's json_extract types
-- it, so filters and sorts on fields answer as on SQLite: a missing field or
-- JSON null is NULL, numbers and booleans (as 1/0) compare as numbers and
-- before text, strings compare as text, objects and arrays as their JSON text.

-- The field as text, for equality filters.
CREATE FUNCTION drey_field_text(doc TEXT, path TEXT[]) RETURNS TEXT
LANGUAGE SQL IMMUTABLE STRICT AS $$
    SELECT CASE json_typeof(v)
        WHEN 'string' THEN v #>> '{}'
        WHEN 'boolean' THEN CASE v::text WHEN 'true' THEN '1' ELSE '0' END
        WHEN 'null' THEN NULL
        ELSE v::text
    END
    FROM (SELECT doc::json #> path AS v) AS field
$$;

-- Which of SQLite's type classes the field falls in: 0 NULL, 1 number, 2 text.
CREATE FUNCTION drey_field_rank(doc TEXT, path TEXT[]) RETURNS INTEGER
LANGUAGE SQL IMMUTABLE STRICT AS $$
    SELECT CASE json_typeof(doc::json #> path)
        WHEN 'number' THEN 1
        WHEN 'boolean' THEN 1
        WHEN 'string' THEN 2
        WHEN 'object' THEN 2
        WHEN 'array' THEN 2
        ELSE 0
    END
$$;

-- The field as a number, when it is one (booleans as 1 and 0).
CREATE FUNCTION drey_field_number(doc TEXT, path TEXT[]) RETURNS NUMERIC
LANGUAGE SQL IMMUTABLE STRICT AS $$
    SELECT CASE json_typeof(v)
        WHEN 'number' THEN v::text::numeric
        WHEN 'boolean' THEN CASE v::text WHEN 'true' THEN 1 ELSE 0 END
    END
    FROM (SELECT doc::json #> path AS v) AS field
$$;
