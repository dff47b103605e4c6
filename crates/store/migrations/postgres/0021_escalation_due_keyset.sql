-- The escalation job's keyset runs over (next_check_at, id): with the id in the index a
-- batch starts where the last one ended instead of re-reading every item due at the same
-- instant (working-day deadlines all fall at 00:00; bench/escalation.sh, BENCHMARKS.md).
DROP INDEX tracked_items_due;
CREATE INDEX tracked_items_due ON tracked_items (state, next_check_at, id);
