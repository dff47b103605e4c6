-- Deadlines pending on a year's holiday arrangement (issue 10, the December block). A case
-- whose deadline reaches into a year not yet loaded is accepted all the same: due_date stays
-- NULL (never a guessed date) and the year it waits for is kept here; importing that year
-- computes the date in the same transaction (store::calendar::compute_pending_deadlines).
-- NULL: the deadline is known, or the case has none.
-- Kept in step with sqlite/0014_deadline_pending.sql.
ALTER TABLE cases ADD COLUMN deadline_pending_year BIGINT;
-- The cases waiting for an import, and the administrator's count of them: only those rows.
CREATE INDEX cases_deadline_pending ON cases(deadline_pending_year, id) WHERE deadline_pending_year IS NOT NULL;
