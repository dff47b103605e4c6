-- 接诉即办 requests (domain::complaints): the category tree with default departments, the
-- requests with their dispatch, signing, reply and callback moments, the chain of events,
-- the trained department suggestion, needs collected at the hall (民情收集) and their
-- problems and projects, and the daily rollup the figures are read from.
-- Kept in step with postgres/0024_complaints.sql.

CREATE TABLE complaint_counters (
    day  TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

-- The category tree (editable): each with its default department and help text.
CREATE TABLE complaint_categories (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES orgs(id),
    parent_id      BIGINT REFERENCES complaint_categories(id),
    code           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    department_id  BIGINT REFERENCES orgs(id),
    help_text      TEXT NOT NULL DEFAULT '',
    active         BIGINT NOT NULL DEFAULT 1,
    version        BIGINT NOT NULL DEFAULT 1,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX complaint_categories_org ON complaint_categories (org_id, active, id);

-- 民情收集: problems the hall hears about, turned into projects by a street.
CREATE TABLE complaint_problems (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES orgs(id),
    title          TEXT NOT NULL,
    state          TEXT NOT NULL,
    project_name   TEXT,
    owner_user_id  BIGINT REFERENCES users(id),
    note           TEXT NOT NULL DEFAULT '',
    created_by     BIGINT NOT NULL REFERENCES users(id),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX complaint_problems_org ON complaint_problems (org_id, state, id);

-- A request. org_id is the receiving street or district (its dispatchers answer for it);
-- the limits are kept as moments so the figures and the board read them without a calendar.
CREATE TABLE complaints (
    id                  INTEGER PRIMARY KEY,
    request_no          TEXT NOT NULL UNIQUE,
    query_code          TEXT NOT NULL,
    org_id              BIGINT NOT NULL REFERENCES orgs(id),
    channel             TEXT NOT NULL,
    external_id         TEXT UNIQUE,
    request_type        TEXT NOT NULL,
    urgency             TEXT NOT NULL,
    complex             BIGINT NOT NULL DEFAULT 0,
    category_id         BIGINT REFERENCES complaint_categories(id),
    content             TEXT NOT NULL,
    person_name         TEXT NOT NULL,
    person_phone        TEXT NOT NULL,
    address             TEXT NOT NULL DEFAULT '',
    lat                 DOUBLE PRECISION,
    lon                 DOUBLE PRECISION,
    complained_user_id  BIGINT REFERENCES users(id),
    complained_window   TEXT NOT NULL DEFAULT '',
    state               TEXT NOT NULL,
    lead_department_id  BIGINT REFERENCES orgs(id),
    co_departments      TEXT NOT NULL DEFAULT '[]',
    dispatch_round      BIGINT NOT NULL DEFAULT 0,
    reopens             BIGINT NOT NULL DEFAULT 0,
    original_id         BIGINT REFERENCES complaints(id),
    repeat_count        BIGINT NOT NULL DEFAULT 0,
    problem_id          BIGINT REFERENCES complaint_problems(id),
    received_at         BIGINT NOT NULL,
    dispatch_due_at     BIGINT,
    dispatched_at       BIGINT,
    sign_due_at         BIGINT,
    signed_at           BIGINT,
    reply_due_at        BIGINT,
    replied_at          BIGINT,
    reply_content       TEXT,
    return_reason       TEXT,
    callback_due_at     BIGINT,
    called_back_at      BIGINT,
    callback_way        TEXT,
    satisfaction        TEXT,
    solved              BIGINT,
    told_at             BIGINT,
    closed_at           BIGINT,
    dispatch_item_id    BIGINT,
    handle_item_id      BIGINT,
    created_by          BIGINT REFERENCES users(id),
    version             BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX complaints_org_state ON complaints (org_id, state, id);
CREATE INDEX complaints_lead ON complaints (lead_department_id, state, id);
-- The duplicate check reads by phone, and by category within a recent period and a box
-- around the place: the coordinates in the index keep the box in the index condition
-- (measured with 1,000,000 requests: BENCHMARKS.md).
CREATE INDEX complaints_phone ON complaints (person_phone, received_at);
CREATE INDEX complaints_category_place ON complaints (category_id, received_at, lat, lon);
CREATE INDEX complaints_original ON complaints (original_id, id);

CREATE TABLE complaint_events (
    id            INTEGER PRIMARY KEY,
    complaint_id  BIGINT NOT NULL REFERENCES complaints(id),
    act           TEXT NOT NULL,
    from_state    TEXT NOT NULL,
    to_state      TEXT NOT NULL,
    user_id       BIGINT REFERENCES users(id),
    org_id        BIGINT REFERENCES orgs(id),
    detail        TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX complaint_events_complaint ON complaint_events (complaint_id, id);

-- The department suggestion, retrained by a command from the stored history.
CREATE TABLE complaint_models (
    id          INTEGER PRIMARY KEY,
    trained_at  BIGINT NOT NULL,
    requests    BIGINT NOT NULL,
    model       TEXT NOT NULL
);

-- The figures' daily rollup, written in each act's transaction: per (receiving
-- organisation, department, category, day, metric); department or category 0 for none.
CREATE TABLE complaint_rollup (
    org_id         BIGINT NOT NULL,
    department_id  BIGINT NOT NULL,
    category_id    BIGINT NOT NULL,
    day            TEXT NOT NULL,
    metric         TEXT NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (org_id, department_id, category_id, day, metric)
);
CREATE INDEX complaint_rollup_day ON complaint_rollup (day, org_id);
