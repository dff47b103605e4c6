-- One number that every change of the calendar increments (in the same transaction), so
-- each instance can keep the parsed calendar in memory and reload it only when another
-- instance (or this one) has changed it. Kept in step with sqlite/0006.
CREATE TABLE calendar_revision (
    id       INTEGER PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO calendar_revision (id, revision) VALUES (1, 0);
