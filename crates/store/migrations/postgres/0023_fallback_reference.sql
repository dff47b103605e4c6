-- 办不成事 reference data (store::fallback::reference): optimistic versions on the tags and
-- the expert pool, so two administrators editing at once cannot overwrite each other.
-- Kept in step with the other backend's 0023_fallback_reference.sql.

ALTER TABLE fallback_tags ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE fallback_experts ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
