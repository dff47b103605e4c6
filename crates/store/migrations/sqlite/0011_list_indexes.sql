-- Indexes for the keyset-paginated lists (store::page): each filter a list offers is the
-- leading part of an index whose remaining columns are the list's sort order, so a page is
-- one index range scan starting after the cursor, whatever the table holds.
-- Kept in step with postgres/0011_list_indexes.sql.
-- An index superseded by a longer one with the same leading columns is dropped: it would
-- only cost writes.

-- Staff (users::page): the scope's organisations in path order (orgs_path), then each
-- organisation's accounts by username, all of them or the active / inactive ones.
CREATE INDEX users_org_username ON users(org_id, username);
CREATE INDEX users_org_active_username ON users(org_id, active, username);
DROP INDEX users_org;

-- Organisations (orgs::page), in path order: all (orgs_path), children of a parent, of a kind.
CREATE INDEX orgs_parent_path ON orgs(parent_id, path);
CREATE INDEX orgs_kind_path ON orgs(kind, path);
DROP INDEX orgs_parent;

-- API keys (apikeys::page): an account's keys, newest first.
CREATE INDEX api_keys_user_id ON api_keys(user_id, id);
DROP INDEX api_keys_user;

-- The catalog search (catalog::page), in code order: all (the unique code index), by
-- window class, by responsible department, by owner; an item's variants.
CREATE INDEX catalog_items_class_code ON catalog_items(window_class, code);
CREATE INDEX catalog_items_department_code ON catalog_items(department_id, code);
CREATE INDEX catalog_items_owner_code ON catalog_items(owner_org_id, code);
CREATE INDEX catalog_items_parent_code ON catalog_items(parent_code, code);
DROP INDEX catalog_items_class;
DROP INDEX catalog_items_department;
DROP INDEX catalog_items_owner;

-- A hall's tickets of a day (queue::tickets_page), newest first: all, or in one state.
CREATE INDEX tickets_day_id ON tickets(hall_id, day, id);
CREATE INDEX tickets_day_state_id ON tickets(hall_id, day, state, id);

-- A hall's appointments of a day (appointments::page), by start time: all, or in one state.
CREATE INDEX appointments_day_start ON appointments(hall_id, day, start_time, id);
CREATE INDEX appointments_day_state_start ON appointments(hall_id, day, state, start_time, id);
DROP INDEX appointments_day;
