-- The version rule (docs/architecture.md, "Store"): `generation` counts spec
-- changes (Kubernetes metadata.generation); `spec_version` is the
-- resourceVersion of the last user write, so a write expecting version v
-- conflicts only when a user wrote after v, never because of a status write.
-- Existing rows get generation 1 and spec_version = resource_version, which
-- keeps the old exact-match behaviour for them until their next user write.
ALTER TABLE objects ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
ALTER TABLE objects ADD COLUMN spec_version INTEGER NOT NULL DEFAULT 0;
UPDATE objects SET spec_version = resource_version;
