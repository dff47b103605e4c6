-- The window's "recently taken in" list reads the newest cases of each intake
-- organisation; this index answers it without sorting the hall's whole archive.
-- Kept in step with sqlite/0005.
CREATE INDEX cases_intake_recent ON cases(intake_org_id, id);
