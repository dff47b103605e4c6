-- 即审即办 (approval at the window). Kept in step with postgres/0012_window_approval.sql.

-- The catalog's flag, copied onto the case at intake like `immediate`, and whether the case
-- was in fact approved at the window.
ALTER TABLE cases ADD COLUMN window_approvable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN approved_at_window INTEGER NOT NULL DEFAULT 0;

-- "Approves at the window for department X" (首席代表 / 派驻审批): one row per clerk and
-- department. Revoking deletes the row; both are audited.
CREATE TABLE window_grants (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id),
    department_id  INTEGER NOT NULL REFERENCES orgs(id),
    granted_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (user_id, department_id)
);

-- Intake figures per day, intake organisation and item, counted in the intake's own
-- transaction, so a period's figures are a sum over days, never a scan of the cases.
CREATE TABLE case_figures_daily (
    day                 TEXT NOT NULL,
    intake_org_id       INTEGER NOT NULL REFERENCES orgs(id),
    item_code           TEXT NOT NULL,
    accepted            INTEGER NOT NULL DEFAULT 0,
    approved_at_window  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, intake_org_id, item_code)
);
