-- The duplicate check looks for *open* events of a category near a point; the index of
-- 0025 held closed ones too, so the check read every closed event in the strip
-- (BENCHMARKS.md, "Grid events: Open311 under load"). A partial index holds only the
-- open ones, with the same predicate the query writes.
DROP INDEX IF EXISTS grid_events_category_place;
CREATE INDEX grid_events_open_place ON grid_events (category_id, lon, lat)
    WHERE state NOT IN ('closed', 'rejected_duplicate');
