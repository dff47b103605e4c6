-- The material catalogue (材料目录) and the rest of fees: fee waivers (减免), and payments,
-- refunds and waivers append-only at the database itself. Kept in step with
-- postgres/0018_materials_fees.sql.

-- A material of the catalogue: one document (the resident's ID card, a marriage
-- certificate, an application form), with a stable id that items' material lists refer
-- to (`materials[i].material_id` in an item's body), so the materials of a 一件事 bundle
-- merge by identity, not by how each item words them. Owned like a catalog item: a city
-- or a district; editing it needs the catalog permission there.
CREATE TABLE materials (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    owner_org_id  BIGINT NOT NULL REFERENCES orgs(id),
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX materials_owner ON materials(owner_org_id, id);

-- A fee waived (减免) in part or whole, by a clerk, with its category and reason. Not money
-- in the till: the cash-up lists waivers beside the payments. Amounts are integer fen.
CREATE TABLE case_fee_waivers (
    id             INTEGER PRIMARY KEY,
    case_id        BIGINT NOT NULL REFERENCES cases(id),
    hall_id        BIGINT NOT NULL REFERENCES orgs(id),
    day            TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL CHECK (amount_fen > 0),
    category       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    clerk_id       BIGINT NOT NULL REFERENCES users(id),
    window_number  BIGINT,
    at             BIGINT NOT NULL
);
CREATE INDEX case_fee_waivers_case ON case_fee_waivers(case_id, id);
CREATE INDEX case_fee_waivers_hall_day ON case_fee_waivers(hall_id, day, id);

-- Money records are never changed or removed, whoever connects: a correction is a refund
-- (or a waiver) of its own.
CREATE TRIGGER case_payments_no_update BEFORE UPDATE ON case_payments
BEGIN SELECT RAISE(ABORT, 'case_payments is append-only'); END;
CREATE TRIGGER case_payments_no_delete BEFORE DELETE ON case_payments
BEGIN SELECT RAISE(ABORT, 'case_payments is append-only'); END;
CREATE TRIGGER case_refunds_no_update BEFORE UPDATE ON case_refunds
BEGIN SELECT RAISE(ABORT, 'case_refunds is append-only'); END;
CREATE TRIGGER case_refunds_no_delete BEFORE DELETE ON case_refunds
BEGIN SELECT RAISE(ABORT, 'case_refunds is append-only'); END;
CREATE TRIGGER case_fee_waivers_no_update BEFORE UPDATE ON case_fee_waivers
BEGIN SELECT RAISE(ABORT, 'case_fee_waivers is append-only'); END;
CREATE TRIGGER case_fee_waivers_no_delete BEFORE DELETE ON case_fee_waivers
BEGIN SELECT RAISE(ABORT, 'case_fee_waivers is append-only'); END;
