-- The secret list cursors are signed with (store::page). One row per secret, created on
-- first start and shared by every instance over this database.
CREATE TABLE install_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Audit events written but not yet chained (PostgreSQL): a writing transaction inserts
-- here without touching the chain head, so concurrent writes no longer wait for each
-- other's commit; the chainer (store::audit::chain_pending) moves committed rows into
-- audit_events in id order, assigning seq and hash under the head lock, in one short
-- transaction per batch. SQLite chains inside its group commit and leaves this empty.
CREATE TABLE audit_pending (
    id             BIGSERIAL PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor_user_id  BIGINT,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    entity         TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    detail         TEXT NOT NULL
);
