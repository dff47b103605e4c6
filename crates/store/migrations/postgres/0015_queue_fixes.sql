-- The 预约 lane is its own lane, no longer a 爱心通道 reason (domain::queue::Lane): a ticket
-- issued by checking in an appointment is known by its appointment_id. Tickets checked in
-- before this change carried priority = 1 with the reason 'appointment'; they are brought in
-- line so the 爱心通道 flag means only the elderly, disabled and pregnant (their order keys,
-- already used for calling, are left as they were).
-- Kept in step with sqlite/0015_queue_fixes.sql.
UPDATE tickets SET priority = 0, priority_reason = NULL WHERE appointment_id IS NOT NULL;
