-- Keyset-paginated lists (issue 9): every case list and the audit log read one page as a
-- few index range scans that stop after the page, whatever the tables hold.
-- Kept in step with postgres/0010_case_list_indexes.sql.
--
-- A case list is the union of "channels" — the cases of one intake organisation, or of
-- one department, or (for the root of the tree) all cases — each read in its list's sort
-- order, optionally one state at a time (a state filter, a queue, a light). So each index
-- is (channel column, [state,] sort key, id): the equality columns first, then the sort
-- key, then id as the unique tiebreaker (explicit, so PostgreSQL needs no extra sort step).
-- Sort keys: created_at (newest first; a date range is a range on it) and due_date (the
-- department queue and the red/yellow/green filter, most urgent first).

-- Per intake organisation (the window's lists).
CREATE INDEX cases_list_intake ON cases(intake_org_id, created_at, id);
CREATE INDEX cases_list_intake_state ON cases(intake_org_id, state, created_at, id);
CREATE INDEX cases_list_intake_due ON cases(intake_org_id, state, due_date, id);
CREATE INDEX cases_list_intake_item ON cases(intake_org_id, item_code, state, created_at, id);
-- Per department (the department queue).
CREATE INDEX cases_list_dept ON cases(department_id, created_at, id);
CREATE INDEX cases_list_dept_state ON cases(department_id, state, created_at, id);
CREATE INDEX cases_list_dept_due ON cases(department_id, state, due_date, id);
-- Everything (the root's scope), by item, by applicant name.
CREATE INDEX cases_list_state ON cases(state, created_at, id);
CREATE INDEX cases_list_state_due ON cases(state, due_date, id);
CREATE INDEX cases_list_item ON cases(item_code, state, created_at, id);
CREATE INDEX cases_list_applicant ON cases(applicant_name, created_at, id);

-- Prefixes of the new indexes: dropped, so writes keep the same number of indexes to
-- maintain for the same reads. (cases_state_due served the deadline job's
-- "state IN (…) AND due_date < today"; cases_list_state_due serves it the same way.)
DROP INDEX cases_intake_recent;
DROP INDEX cases_intake_state;
DROP INDEX cases_department_state;
DROP INDEX cases_state_due;

-- The audit log: newest first by seq, filtered by entity (and id), actor or action; a
-- date range is turned into a seq range through audit_events_at.
CREATE INDEX audit_events_entity_seq ON audit_events(entity, entity_id, seq);
CREATE INDEX audit_events_entity_only ON audit_events(entity, seq);
CREATE INDEX audit_events_actor ON audit_events(actor, seq);
CREATE INDEX audit_events_action ON audit_events(action, seq);
CREATE INDEX audit_events_at ON audit_events(at, seq);
DROP INDEX audit_events_entity;
