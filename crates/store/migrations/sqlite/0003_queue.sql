-- Queue tickets, windows, the live display's event log, appointments (C3).
-- Kept in step with postgres/0003_queue.sql.

CREATE TABLE queue_classes (
    id                 INTEGER PRIMARY KEY,
    hall_id            BIGINT NOT NULL REFERENCES orgs(id),
    code               TEXT NOT NULL,
    name               TEXT NOT NULL,
    slot_capacity      BIGINT NOT NULL DEFAULT 4,
    UNIQUE (hall_id, code)
);

CREATE TABLE service_windows (
    id                 INTEGER PRIMARY KEY,
    hall_id            BIGINT NOT NULL REFERENCES orgs(id),
    number             BIGINT NOT NULL,
    name               TEXT NOT NULL,
    classes            TEXT NOT NULL,
    state              TEXT NOT NULL DEFAULT 'closed',
    clerk_id           BIGINT REFERENCES users(id),
    current_ticket_id  BIGINT,
    updated_at         BIGINT NOT NULL,
    version            BIGINT NOT NULL DEFAULT 1,
    UNIQUE (hall_id, number)
);

CREATE TABLE tickets (
    id               INTEGER PRIMARY KEY,
    hall_id          BIGINT NOT NULL REFERENCES orgs(id),
    class_code       TEXT NOT NULL,
    day              TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    number           TEXT NOT NULL,
    priority         BIGINT NOT NULL DEFAULT 0,
    priority_reason  TEXT,
    source           TEXT NOT NULL,
    state            TEXT NOT NULL,
    -- Call order: issue time less the priority boost in force when issued.
    order_key        BIGINT NOT NULL,
    issued_at        BIGINT NOT NULL,
    called_at        BIGINT,
    served_at        BIGINT,
    finished_at      BIGINT,
    window_id        BIGINT REFERENCES service_windows(id),
    window_number    BIGINT,
    recall_count     BIGINT NOT NULL DEFAULT 0,
    requeue_count    BIGINT NOT NULL DEFAULT 0,
    appointment_id   BIGINT,
    case_nos         TEXT NOT NULL DEFAULT '[]',
    version          BIGINT NOT NULL DEFAULT 1,
    UNIQUE (hall_id, class_code, day, seq)
);
CREATE INDEX tickets_waiting ON tickets(hall_id, day, state, order_key);
CREATE INDEX tickets_day ON tickets(hall_id, day, class_code);

CREATE TABLE ticket_counters (
    hall_id     BIGINT NOT NULL,
    class_code  TEXT NOT NULL,
    day         TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (hall_id, class_code, day)
);

-- What the display screens show, in order; also replayed after a reconnect (Last-Event-ID).
CREATE TABLE queue_events (
    id         INTEGER PRIMARY KEY,
    hall_id    BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL
);
CREATE INDEX queue_events_hall ON queue_events(hall_id, id);

CREATE TABLE appointment_slots (
    id          INTEGER PRIMARY KEY,
    hall_id     BIGINT NOT NULL REFERENCES orgs(id),
    class_code  TEXT NOT NULL,
    day         TEXT NOT NULL,
    start_time  TEXT NOT NULL,
    end_time    TEXT NOT NULL,
    capacity    BIGINT NOT NULL,
    booked      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (hall_id, class_code, day, start_time)
);

CREATE TABLE appointments (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    slot_id         BIGINT NOT NULL REFERENCES appointment_slots(id),
    hall_id         BIGINT NOT NULL,
    class_code      TEXT NOT NULL,
    day             TEXT NOT NULL,
    start_time      TEXT NOT NULL,
    name            TEXT NOT NULL,
    id_hash         TEXT NOT NULL,
    id_masked       TEXT NOT NULL,
    phone           TEXT NOT NULL,
    state           TEXT NOT NULL,
    ticket_id       BIGINT,
    booked_by       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX appointments_person ON appointments(id_hash, state);
CREATE INDEX appointments_day ON appointments(hall_id, day, state);
