-- Fees (缴费): payments taken at the window and refunds, both append-only (rows are never
-- updated or deleted; a refund is a row of its own). Amounts are integer fen (分).
-- Kept in step with postgres/0013_fees.sql.

-- A hall's daily receipt-number sequence: one row per hall and Beijing date.
CREATE TABLE payment_counters (
    hall_id  BIGINT NOT NULL,
    day      TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (hall_id, day)
);

CREATE TABLE case_payments (
    id             INTEGER PRIMARY KEY,
    case_id        BIGINT NOT NULL REFERENCES cases(id),
    hall_id        BIGINT NOT NULL REFERENCES orgs(id),
    -- Beijing date and the hall's sequence of that day: the receipt number is made of them.
    day            TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    receipt_no     TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL CHECK (amount_fen > 0),
    -- The units the fee was assessed for (1 for a fixed fee).
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    method         TEXT NOT NULL,
    note           TEXT NOT NULL,
    clerk_id       BIGINT NOT NULL REFERENCES users(id),
    window_id      BIGINT REFERENCES service_windows(id),
    window_number  BIGINT,
    at             BIGINT NOT NULL,
    UNIQUE (hall_id, day, seq),
    UNIQUE (hall_id, receipt_no)
);
-- A case's payments in order (the case page, the balance).
CREATE INDEX case_payments_case ON case_payments(case_id, id);
-- A hall's day (the cash-up) is served by UNIQUE (hall_id, day, seq).

CREATE TABLE case_refunds (
    id          INTEGER PRIMARY KEY,
    payment_id  BIGINT NOT NULL REFERENCES case_payments(id),
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    -- The hall of the payment: the refund is in that hall's cash-up of the refund's day.
    hall_id     BIGINT NOT NULL REFERENCES orgs(id),
    day         TEXT NOT NULL,
    amount_fen  BIGINT NOT NULL CHECK (amount_fen > 0),
    reason      TEXT NOT NULL,
    clerk_id    BIGINT NOT NULL REFERENCES users(id),
    at          BIGINT NOT NULL
);
CREATE INDEX case_refunds_case ON case_refunds(case_id, id);
CREATE INDEX case_refunds_payment ON case_refunds(payment_id);
CREATE INDEX case_refunds_hall_day ON case_refunds(hall_id, day, id);
