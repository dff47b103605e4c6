-- Waiting counts per class are read on every queue change; this index answers them
-- without visiting finished tickets. Kept in step with postgres/0004.
CREATE INDEX tickets_waiting_by_class ON tickets(hall_id, day, state, class_code);
