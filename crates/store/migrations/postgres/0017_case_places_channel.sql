-- The three places of a case, its channel, and 补录 (issue 10, items 4 and 5): see
-- domain::places. Kept in step with sqlite/0017_case_places_channel.sql.
--
-- Where it was taken in: the intake organisation (intake_org_id) as a kind of place.
-- Who decides: the department (department_id). Where the result is handed out: the
-- method (window / mail / electronic), the place that hands it out (the chosen hall or
-- station for a pick-up, the intake place for mail and electronic certificates) and the
-- mail address.
ALTER TABLE cases ADD COLUMN intake_place_kind TEXT NOT NULL DEFAULT 'hall';
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT 'window';
ALTER TABLE cases ADD COLUMN handout_method TEXT NOT NULL DEFAULT 'window';
ALTER TABLE cases ADD COLUMN handout_org_id BIGINT REFERENCES orgs(id);
ALTER TABLE cases ADD COLUMN handout_address TEXT;
-- 补录: the original acceptance time of a paper intake entered later (NULL: entered when
-- taken in) and why it was entered late.
ALTER TABLE cases ADD COLUMN backfill_accepted_at BIGINT;
ALTER TABLE cases ADD COLUMN backfill_reason TEXT;

-- Cases taken in before: handed out where they were taken in; a community's are its
-- station's, by the station channel.
UPDATE cases SET handout_org_id = intake_org_id;
UPDATE cases SET intake_place_kind = 'community_station', channel = 'community_station'
    WHERE intake_org_id IN (SELECT id FROM orgs WHERE kind = 'community');

-- The handing-out place's lists (its issuance queue), like the intake indexes of 0010.
CREATE INDEX cases_list_handout ON cases(handout_org_id, created_at, id);
CREATE INDEX cases_list_handout_state ON cases(handout_org_id, state, created_at, id);
CREATE INDEX cases_list_handout_due ON cases(handout_org_id, state, due_date, id);
