-- 好差评 (domain::ratings): ratings, appeals, rectifications, the window rating devices,
-- the invitations after closing, and the daily rollup the figures are read from. Kept in
-- step with postgres/0020_ratings.sql.

-- Who finished a visit: the clerk a visit's rating is counted for.
ALTER TABLE tickets ADD COLUMN finished_by BIGINT REFERENCES users(id);

-- A tablet paired to a window as its rating device (评价器). The tablet holds the token
-- (only its hash is kept); the clerk's 完成办理 puts the finished ticket on it as the prompt.
CREATE TABLE rating_devices (
    id                INTEGER PRIMARY KEY,
    window_id         BIGINT NOT NULL REFERENCES service_windows(id),
    hall_id           BIGINT NOT NULL REFERENCES orgs(id),
    token_hash        TEXT NOT NULL UNIQUE,
    label             TEXT NOT NULL,
    paired_by         BIGINT NOT NULL REFERENCES users(id),
    paired_at         BIGINT NOT NULL,
    revoked_at        BIGINT,
    prompt_ticket_id  BIGINT REFERENCES tickets(id),
    prompt_at         BIGINT
);
CREATE INDEX rating_devices_window ON rating_devices (window_id, id);

-- One rating per visit (a finished ticket) and one per case: the UNIQUE columns refuse a
-- second one. What was rated and who answers for it (unit, 谁办理谁负责) are copied in at
-- rating time, so the record stands as given. Never changed or removed (triggers below).
CREATE TABLE ratings (
    id              INTEGER PRIMARY KEY,
    subject         TEXT NOT NULL,
    ticket_id       BIGINT UNIQUE REFERENCES tickets(id),
    case_id         BIGINT UNIQUE REFERENCES cases(id),
    level           TEXT NOT NULL,
    stars           BIGINT NOT NULL,
    scores          TEXT NOT NULL,
    tags            TEXT NOT NULL,
    comment         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    rater_name      TEXT NOT NULL,
    rater_phone     TEXT,
    unit_kind       TEXT NOT NULL,
    unit_org_id     BIGINT NOT NULL REFERENCES orgs(id),
    hall_org_id     BIGINT NOT NULL REFERENCES orgs(id),
    department_id   BIGINT REFERENCES orgs(id),
    window_id       BIGINT REFERENCES service_windows(id),
    clerk_user_id   BIGINT REFERENCES users(id),
    item_code       TEXT,
    subject_label   TEXT NOT NULL,
    finished_at     BIGINT NOT NULL,
    rated_at        BIGINT NOT NULL,
    day             TEXT NOT NULL,
    late            BIGINT NOT NULL,
    entered_by      BIGINT REFERENCES users(id)
);
CREATE INDEX ratings_unit ON ratings (unit_org_id, id);
CREATE INDEX ratings_hall ON ratings (hall_org_id, id);
CREATE TRIGGER ratings_no_update BEFORE UPDATE ON ratings
BEGIN SELECT RAISE(ABORT, 'ratings is append-only'); END;
CREATE TRIGGER ratings_no_delete BEFORE DELETE ON ratings
BEGIN SELECT RAISE(ABORT, 'ratings is append-only'); END;

-- 申诉复核: one appeal per rating by the rated unit, decided by a supervisor. An upheld
-- appeal only excludes the rating from the figures; the rating stays.
CREATE TABLE rating_appeals (
    id               INTEGER PRIMARY KEY,
    rating_id        BIGINT NOT NULL UNIQUE REFERENCES ratings(id),
    unit_org_id      BIGINT NOT NULL REFERENCES orgs(id),
    reason           TEXT NOT NULL,
    filed_by         BIGINT NOT NULL REFERENCES users(id),
    filed_at         BIGINT NOT NULL,
    state            TEXT NOT NULL,
    decided_by       BIGINT REFERENCES users(id),
    decided_at       BIGINT,
    decision_reason  TEXT,
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX rating_appeals_state ON rating_appeals (state, id);

-- 差评整改: exactly one per bad rating, owned by the rated unit, timed by the escalation
-- engine (tracked_item_id). The SMS callback link's token is kept as a hash.
CREATE TABLE rectifications (
    id                   INTEGER PRIMARY KEY,
    rating_id            BIGINT NOT NULL UNIQUE REFERENCES ratings(id),
    unit_kind            TEXT NOT NULL,
    unit_org_id          BIGINT NOT NULL REFERENCES orgs(id),
    state                TEXT NOT NULL,
    founded              BIGINT,
    evidence             TEXT,
    remedy               TEXT,
    done                 TEXT,
    callback_way         TEXT,
    callback_level       TEXT,
    callback_note        TEXT,
    callback_token_hash  TEXT UNIQUE,
    tracked_item_id      BIGINT REFERENCES tracked_items(id),
    created_at           BIGINT NOT NULL,
    closed_at            BIGINT,
    on_time              BIGINT,
    version              BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX rectifications_unit ON rectifications (unit_org_id, state, id);

-- Every step of a rectification, as taken (append-only, like case events).
CREATE TABLE rectification_steps (
    id                 INTEGER PRIMARY KEY,
    rectification_id   BIGINT NOT NULL REFERENCES rectifications(id),
    at                 BIGINT NOT NULL,
    step               TEXT NOT NULL,
    state              TEXT NOT NULL,
    actor              TEXT NOT NULL,
    detail             TEXT NOT NULL
);
CREATE INDEX rectification_steps_of ON rectification_steps (rectification_id, id);

-- The invitation to rate a finished case (邀评短信), written when the result is handed
-- over and due N days later (N a setting, read when the job runs); the job reads only
-- pending rows finished long enough ago, by the index.
CREATE TABLE rating_invitations (
    case_id      BIGINT PRIMARY KEY REFERENCES cases(id),
    finished_at  BIGINT NOT NULL,
    state       TEXT NOT NULL,
    message_id  BIGINT REFERENCES outbox_messages(id),
    done_at     BIGINT
);
CREATE INDEX rating_invitations_due ON rating_invitations (state, finished_at);

-- The figures' rollup: per dimension (hall, department, window, clerk, item), the row's
-- organisation (for scope) and day, counted in the transaction of the act. A period's
-- figures are a sum over days, never a scan of the ratings. Each counter is spread over
-- a few shards (the subject's id modulo `store::ratings::SHARDS`) so concurrent ratings of
-- one hall on one day do not all wait for one row's lock; reads sum the shards.
CREATE TABLE rating_rollup (
    dim                TEXT NOT NULL,
    dim_id             TEXT NOT NULL,
    org_id             BIGINT NOT NULL REFERENCES orgs(id),
    day                TEXT NOT NULL,
    shard              BIGINT NOT NULL,
    s1                 BIGINT NOT NULL DEFAULT 0,
    s2                 BIGINT NOT NULL DEFAULT 0,
    s3                 BIGINT NOT NULL DEFAULT 0,
    s4                 BIGINT NOT NULL DEFAULT 0,
    s5                 BIGINT NOT NULL DEFAULT 0,
    excluded           BIGINT NOT NULL DEFAULT 0,
    finished_cases     BIGINT NOT NULL DEFAULT 0,
    rated_cases        BIGINT NOT NULL DEFAULT 0,
    bad                BIGINT NOT NULL DEFAULT 0,
    named_bad          BIGINT NOT NULL DEFAULT 0,
    rectified          BIGINT NOT NULL DEFAULT 0,
    rectified_on_time  BIGINT NOT NULL DEFAULT 0,
    called_back        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, dim_id, org_id, day, shard)
);
CREATE INDEX rating_rollup_day ON rating_rollup (dim, day);
