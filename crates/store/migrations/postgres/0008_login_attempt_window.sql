-- Lock-out reservations (issue 8, finding 3): `failed_logins` now counts password checks
-- reserved since `login_window_start`, taken before the check runs, so parallel guesses
-- cannot all be checked. A count older than the window no longer blocks (a reservation
-- left behind by a crashed instance heals by itself). Kept in step with sqlite/0008.
ALTER TABLE users ADD COLUMN login_window_start BIGINT;
