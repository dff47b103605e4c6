-- One-window service (C1, C2, C10): catalog with versions, bundles, working-day calendar,
-- cases and their event history. Kept in step with postgres/0002_one_window.sql.

CREATE TABLE catalog_items (
    id               INTEGER PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    window_class     TEXT NOT NULL,
    department_id    BIGINT NOT NULL REFERENCES orgs(id),
    parent_code      TEXT,
    immediate        BIGINT NOT NULL DEFAULT 0,
    active           BIGINT NOT NULL DEFAULT 1,
    current_version  BIGINT NOT NULL,
    -- Lower-cased name, code, keywords, class and department: what the public search matches.
    search_text      TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX catalog_items_class ON catalog_items(window_class);
CREATE INDEX catalog_items_department ON catalog_items(department_id);

-- Every edit is a new version; a case keeps the version it was accepted under.
CREATE TABLE catalog_item_versions (
    id              INTEGER PRIMARY KEY,
    item_id         BIGINT NOT NULL REFERENCES catalog_items(id),
    version         BIGINT NOT NULL,
    effective_from  TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    UNIQUE (item_id, version)
);

CREATE TABLE catalog_bundles (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Holidays and make-up working days, per year; a year with no rows is not covered.
CREATE TABLE calendar_days (
    day       TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    festival  TEXT NOT NULL
);
CREATE TABLE calendar_years (
    year       BIGINT PRIMARY KEY,
    loaded_at  BIGINT NOT NULL,
    loaded_by  TEXT NOT NULL
);

CREATE TABLE cases (
    id                  INTEGER PRIMARY KEY,
    case_no             TEXT NOT NULL UNIQUE,
    query_code          TEXT NOT NULL,
    item_code           TEXT NOT NULL,
    item_version_id     BIGINT NOT NULL REFERENCES catalog_item_versions(id),
    bundle_code         TEXT,
    title               TEXT NOT NULL,
    department_id       BIGINT NOT NULL REFERENCES orgs(id),
    intake_org_id       BIGINT NOT NULL REFERENCES orgs(id),
    state               TEXT NOT NULL,
    acceptance_kind     TEXT,
    immediate           BIGINT NOT NULL DEFAULT 0,
    applicant_kind      TEXT NOT NULL,
    applicant_name      TEXT NOT NULL,
    applicant_id        TEXT NOT NULL,
    applicant_id_masked TEXT NOT NULL,
    applicant_phone     TEXT NOT NULL,
    agent_name          TEXT,
    agent_id_masked     TEXT,
    agent_id            TEXT,
    materials           TEXT NOT NULL,
    missing             TEXT NOT NULL,
    supplement_pending  BIGINT NOT NULL DEFAULT 0,
    supplement_due      TEXT,
    limit_days          BIGINT NOT NULL,
    accepted_on         TEXT,
    due_date            TEXT,
    paused_since        TEXT,
    pauses              TEXT NOT NULL DEFAULT '[]',
    decision            TEXT,
    decision_text       TEXT,
    legal_basis         TEXT,
    issue_method        TEXT,
    tracking_no         TEXT,
    certificate_no      TEXT,
    assignee_id         BIGINT REFERENCES users(id),
    overdue             BIGINT NOT NULL DEFAULT 0,
    created_by          BIGINT NOT NULL REFERENCES users(id),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX cases_department_state ON cases(department_id, state);
CREATE INDEX cases_intake_state ON cases(intake_org_id, state);
CREATE INDEX cases_state_due ON cases(state, due_date);
CREATE INDEX cases_supplement ON cases(supplement_pending, supplement_due);

CREATE TABLE case_events (
    id          INTEGER PRIMARY KEY,
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events(case_id, id);

-- Daily case-number sequence: one row per Beijing date.
CREATE TABLE case_counters (
    day  TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
