-- 办不成事 fallback window (domain::fallback): cases with first-contact ownership, the
-- negative list (versioned), tags, department liaisons (1+N), coordination tasks and
-- refusal reports (否定答复报告), joint meetings, the expert pool, the case library with
-- its search terms, policy suggestions, and the daily rollup the figures are read from.
-- Kept in step with postgres/0022_fallback.sql.

CREATE TABLE fallback_counters (
    day  TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

-- 负面清单: what the window does not take, with the right channel. Each change writes a
-- version row (the entry as it became); entries are retired, never deleted.
CREATE TABLE fallback_negative_entries (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES orgs(id),
    category       TEXT NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    right_channel  TEXT NOT NULL,
    active         BIGINT NOT NULL DEFAULT 1,
    version        BIGINT NOT NULL DEFAULT 1,
    updated_by     BIGINT NOT NULL REFERENCES users(id),
    updated_at     BIGINT NOT NULL
);
CREATE INDEX fallback_negative_org ON fallback_negative_entries (org_id, active, id);
CREATE TABLE fallback_negative_versions (
    id          INTEGER PRIMARY KEY,
    entry_id    BIGINT NOT NULL REFERENCES fallback_negative_entries(id),
    version     BIGINT NOT NULL,
    snapshot    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    changed_by  BIGINT NOT NULL REFERENCES users(id),
    changed_at  BIGINT NOT NULL,
    UNIQUE (entry_id, version)
);

-- Problem tags (历史遗留问题、政策不明确 …), editable per organisation.
CREATE TABLE fallback_tags (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    active      BIGINT NOT NULL DEFAULT 1,
    UNIQUE (org_id, name)
);

-- 1+N: each department's named liaison for the window's tasks.
CREATE TABLE fallback_liaisons (
    department_id  BIGINT PRIMARY KEY REFERENCES orgs(id),
    user_id        BIGINT NOT NULL REFERENCES users(id),
    phone          TEXT NOT NULL,
    updated_by     BIGINT NOT NULL REFERENCES users(id),
    updated_at     BIGINT NOT NULL
);

-- 专家咨询库.
CREATE TABLE fallback_experts (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    field       TEXT NOT NULL,
    affiliation TEXT NOT NULL,
    phone       TEXT NOT NULL,
    active      BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL
);
CREATE INDEX fallback_experts_org ON fallback_experts (org_id, active, id);

-- A fallback case. The owner is the officer who took it (首接负责) until a recorded
-- hand-over. The limits are kept as moments so the figures read them without a calendar.
CREATE TABLE fallback_cases (
    id                  INTEGER PRIMARY KEY,
    case_no             TEXT NOT NULL UNIQUE,
    query_code          TEXT NOT NULL,
    org_id              BIGINT NOT NULL REFERENCES orgs(id),
    case_type           TEXT NOT NULL,
    channel             TEXT NOT NULL,
    external_id         TEXT UNIQUE,
    state               TEXT NOT NULL,
    tier                TEXT NOT NULL,
    rounds_in_tier      BIGINT NOT NULL DEFAULT 0,
    rounds_total        BIGINT NOT NULL DEFAULT 0,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    person_name         TEXT NOT NULL,
    person_phone        TEXT NOT NULL,
    company_name        TEXT NOT NULL,
    tried_what          TEXT NOT NULL,
    tried_where         TEXT NOT NULL,
    linked_ref          TEXT NOT NULL,
    multi_department    BIGINT NOT NULL,
    policy_room         BIGINT NOT NULL,
    tags                TEXT NOT NULL,
    owner_user_id       BIGINT REFERENCES users(id),
    received_at         BIGINT NOT NULL,
    accept_due_at       BIGINT,
    responded_at        BIGINT,
    respond_due_at      BIGINT,
    coordinated_at      BIGINT,
    coordinate_due_at   BIGINT,
    close_due_at        BIGINT,
    extension_state     TEXT NOT NULL DEFAULT 'none',
    extended_days       BIGINT,
    extension_reason    TEXT,
    extension_asked_by  BIGINT REFERENCES users(id),
    extension_approved_by BIGINT REFERENCES users(id),
    concluded_at        BIGINT,
    outcome             TEXT,
    outcome_reason      TEXT,
    conclusion          TEXT,
    fed_back_at         BIGINT,
    feedback_way        TEXT,
    feedback_text       TEXT,
    satisfaction        TEXT,
    verified_at         BIGINT,
    verified_by         BIGINT REFERENCES users(id),
    verify_note         TEXT,
    filed_at            BIGINT,
    filed_by            BIGINT REFERENCES users(id),
    refused_at          BIGINT,
    refusal_entry_id    BIGINT REFERENCES fallback_negative_entries(id),
    refusal_reason      TEXT,
    refusal_channel     TEXT,
    tracked_item_id     BIGINT REFERENCES tracked_items(id),
    created_by          BIGINT REFERENCES users(id),
    version             BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX fallback_cases_org_state ON fallback_cases (org_id, state, id);
CREATE INDEX fallback_cases_owner ON fallback_cases (owner_user_id, state, id);
CREATE INDEX fallback_cases_received ON fallback_cases (org_id, received_at, id);
CREATE INDEX fallback_cases_phone ON fallback_cases (person_phone, id);

-- Every act on a case, in order (the stage-by-stage chain the person and staff see).
CREATE TABLE fallback_events (
    id        INTEGER PRIMARY KEY,
    case_id   BIGINT NOT NULL REFERENCES fallback_cases(id),
    at        BIGINT NOT NULL,
    action    TEXT NOT NULL,
    actor_id  BIGINT REFERENCES users(id),
    actor     TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX fallback_events_case ON fallback_events (case_id, id);

-- A task to one department in one coordination round; a refusal carries its 否定答复报告.
CREATE TABLE fallback_tasks (
    id               INTEGER PRIMARY KEY,
    case_id          BIGINT NOT NULL REFERENCES fallback_cases(id),
    round            BIGINT NOT NULL,
    tier             TEXT NOT NULL,
    department_id    BIGINT NOT NULL REFERENCES orgs(id),
    liaison_user_id  BIGINT REFERENCES users(id),
    request          TEXT NOT NULL,
    state            TEXT NOT NULL,
    reply            TEXT,
    refusal_reasons  TEXT,
    legal_basis      TEXT,
    replied_by       BIGINT REFERENCES users(id),
    replied_at       BIGINT,
    sent_at          BIGINT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1,
    UNIQUE (case_id, round, department_id)
);
CREATE INDEX fallback_tasks_department ON fallback_tasks (department_id, state, id);

-- 联席会议 and its decisions (each with an owner department and a deadline).
CREATE TABLE fallback_meetings (
    id           INTEGER PRIMARY KEY,
    case_id      BIGINT NOT NULL REFERENCES fallback_cases(id),
    tier         TEXT NOT NULL,
    held_on      TEXT NOT NULL,
    departments  TEXT NOT NULL,
    minutes      TEXT NOT NULL,
    recorded_by  BIGINT NOT NULL REFERENCES users(id),
    recorded_at  BIGINT NOT NULL
);
CREATE INDEX fallback_meetings_case ON fallback_meetings (case_id, id);
CREATE TABLE fallback_meeting_decisions (
    id            INTEGER PRIMARY KEY,
    meeting_id    BIGINT NOT NULL REFERENCES fallback_meetings(id),
    text          TEXT NOT NULL,
    owner_org_id  BIGINT NOT NULL REFERENCES orgs(id),
    due_on        TEXT NOT NULL
);
CREATE INDEX fallback_meeting_decisions_meeting ON fallback_meeting_decisions (meeting_id, id);

-- An expert invited to a case, and the opinion once given.
CREATE TABLE fallback_expert_opinions (
    id           INTEGER PRIMARY KEY,
    case_id      BIGINT NOT NULL REFERENCES fallback_cases(id),
    expert_id    BIGINT NOT NULL REFERENCES fallback_experts(id),
    question     TEXT NOT NULL,
    invited_by   BIGINT NOT NULL REFERENCES users(id),
    invited_at   BIGINT NOT NULL,
    opinion      TEXT,
    recorded_at  BIGINT,
    UNIQUE (case_id, expert_id)
);

-- 案例库: a filed, solved case, anonymised; its search terms (jieba tokens) beside it.
CREATE TABLE fallback_library (
    id          INTEGER PRIMARY KEY,
    case_id     BIGINT NOT NULL UNIQUE REFERENCES fallback_cases(id),
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    title       TEXT NOT NULL,
    problem     TEXT NOT NULL,
    solution    TEXT NOT NULL,
    tags        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    solved_at   BIGINT NOT NULL
);
CREATE INDEX fallback_library_org ON fallback_library (org_id, id);
CREATE TABLE fallback_library_terms (
    term      TEXT NOT NULL,
    entry_id  BIGINT NOT NULL REFERENCES fallback_library(id),
    weight    BIGINT NOT NULL,
    PRIMARY KEY (term, entry_id)
);

-- 政策建议: proposed → under study → adopted / rejected, with the cases behind it.
CREATE TABLE fallback_suggestions (
    id             INTEGER PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES orgs(id),
    title          TEXT NOT NULL,
    content        TEXT NOT NULL,
    state          TEXT NOT NULL,
    proposed_by    BIGINT NOT NULL REFERENCES users(id),
    proposed_at    BIGINT NOT NULL,
    deciding_body  TEXT,
    decided_on     TEXT,
    decision_note  TEXT,
    version        BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX fallback_suggestions_org ON fallback_suggestions (org_id, state, id);
CREATE TABLE fallback_suggestion_cases (
    suggestion_id  BIGINT NOT NULL REFERENCES fallback_suggestions(id),
    case_id        BIGINT NOT NULL REFERENCES fallback_cases(id),
    PRIMARY KEY (suggestion_id, case_id)
);

-- The figures' daily rollup, written in each act's transaction: per (dimension, id, day,
-- metric). dim 'org' (the window's organisation) or 'dept' (a department's refusals).
CREATE TABLE fallback_rollup (
    dim     TEXT NOT NULL,
    dim_id  BIGINT NOT NULL,
    day     TEXT NOT NULL,
    metric  TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (dim, dim_id, day, metric)
);
