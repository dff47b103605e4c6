-- The escalation engine (督办, domain::escalation), the staff inbox and the outbox of
-- messages to residents. Kept in step with postgres/0019_escalation.sql.

-- A loop's kinds of tracked item: its stages with their deadline rules, its tiers and the
-- warning share, as JSON (domain::escalation::KindSpec). Registered by the loop (or a
-- test); the settings per kind and stage.
CREATE TABLE tracked_kinds (
    kind        TEXT PRIMARY KEY,
    spec        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- One tracked item per loop subject (UNIQUE (kind, subject_ref)): its stage, the clock of
-- that stage and the tier it has climbed to. `next_check_at` is when the job must look at
-- it next (NULL: never); a run reads only open items whose time has come, by the index.
CREATE TABLE tracked_items (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL REFERENCES tracked_kinds(kind),
    subject_ref       TEXT NOT NULL,
    title             TEXT NOT NULL,
    link              TEXT NOT NULL,
    owner_org_id      BIGINT NOT NULL REFERENCES orgs(id),
    stage             TEXT NOT NULL,
    stage_started_at  BIGINT NOT NULL,
    due_at            BIGINT,
    pending_year      BIGINT,
    warn_at           BIGINT,
    warned            BIGINT NOT NULL DEFAULT 0,
    overdue_since     BIGINT,
    exhausted         BIGINT NOT NULL DEFAULT 0,
    tier              BIGINT NOT NULL DEFAULT 0,
    state             TEXT NOT NULL,
    next_check_at     BIGINT,
    created_at        BIGINT NOT NULL,
    closed_at         BIGINT,
    version           BIGINT NOT NULL DEFAULT 1,
    UNIQUE (kind, subject_ref)
);
CREATE INDEX tracked_items_due ON tracked_items (state, next_check_at);
CREATE INDEX tracked_items_owner ON tracked_items (owner_org_id, state);

-- What happened to an item: tracked, warned, escalated, exhausted, resolved, advanced,
-- closed — each with the stage and tier it left the item in.
CREATE TABLE tracked_events (
    id        INTEGER PRIMARY KEY,
    item_id   BIGINT NOT NULL REFERENCES tracked_items(id),
    at        BIGINT NOT NULL,
    action    TEXT NOT NULL,
    stage     TEXT NOT NULL,
    tier      BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX tracked_events_item ON tracked_events (item_id, id);

-- The staff inbox: a notice to holders of a role at an organisation (seen by those at it
-- or above it: `org_path` prefix), or to one user. Read once by any of them.
CREATE TABLE notices (
    id                 INTEGER PRIMARY KEY,
    recipient_role     TEXT,
    org_id             BIGINT REFERENCES orgs(id),
    org_path           TEXT,
    recipient_user_id  BIGINT REFERENCES users(id),
    kind               TEXT NOT NULL,
    text               TEXT NOT NULL,
    link               TEXT NOT NULL,
    item_id            BIGINT REFERENCES tracked_items(id),
    created_at         BIGINT NOT NULL,
    read_at            BIGINT,
    read_by            BIGINT REFERENCES users(id)
);
CREATE INDEX notices_role ON notices (recipient_role, org_path, id);
CREATE INDEX notices_user ON notices (recipient_user_id, id);

-- Messages to residents (SMS text), as the sender handled them: queued, sent or failed,
-- with every attempt.
CREATE TABLE outbox_messages (
    id          INTEGER PRIMARY KEY,
    phone       TEXT NOT NULL,
    message     TEXT NOT NULL,
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    org_path    TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    sender      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    next_try_at BIGINT
);
CREATE INDEX outbox_org ON outbox_messages (org_path, id);
CREATE INDEX outbox_pending ON outbox_messages (state, next_try_at);

CREATE TABLE outbox_attempts (
    id          INTEGER PRIMARY KEY,
    message_id  BIGINT NOT NULL REFERENCES outbox_messages(id),
    at          BIGINT NOT NULL,
    ok          BIGINT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (message_id, id);
