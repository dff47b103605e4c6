-- Visits per case (跑动次数, domain::visits) and the 一次办结 figure. Kept in step with
-- postgres/0016_case_visits.sql.

-- One row per case and day the applicant came in person (domain::visits::visit_key): a
-- finished ticket that served the case (walk-in or an appointment's check-in), or intake
-- or hand-over at the window without a ticket. Written in the transaction of the act that
-- caused it; a second record of the same trip is ignored (UNIQUE (case_id, day)).
CREATE TABLE case_visits (
    id              INTEGER PRIMARY KEY,
    case_id         BIGINT NOT NULL REFERENCES cases(id),
    day             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    ticket_id       BIGINT REFERENCES tickets(id),
    appointment_id  BIGINT REFERENCES appointments(id),
    -- Where: the hall of the ticket, else the organisation the clerk took it in or handed it
    -- out at; the window when a ticket was served at one.
    org_id          BIGINT NOT NULL REFERENCES orgs(id),
    window_number   BIGINT,
    clerk_id        BIGINT REFERENCES users(id),
    at              BIGINT NOT NULL,
    UNIQUE (case_id, day)
);

-- A case's issuance as the 一次办结 rollup counted it: the day and row it was counted in,
-- and whether it counted as done in one visit, so a visit recorded after the hand-over
-- (the ticket that served it finishing) can correct that one row.
CREATE TABLE case_issuances (
    case_id        BIGINT PRIMARY KEY REFERENCES cases(id),
    day            TEXT NOT NULL,
    intake_org_id  BIGINT NOT NULL REFERENCES orgs(id),
    item_code      TEXT NOT NULL,
    in_one_visit   BIGINT NOT NULL
);

-- The rollup: cases issued per day (of issuance), intake organisation and item, and of
-- those the ones done in one visit.
ALTER TABLE case_figures_daily ADD COLUMN issued BIGINT NOT NULL DEFAULT 0;
ALTER TABLE case_figures_daily ADD COLUMN issued_in_one_visit BIGINT NOT NULL DEFAULT 0;
