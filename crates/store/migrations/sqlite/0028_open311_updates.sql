-- The update_id an Open311 client sends with POST servicerequestupdates, per poster (the
-- API key's account): a repeat answers the first update and writes nothing
-- (store::grid::events::external_update). The claim is inserted first, in the update's
-- transaction, so a concurrent repeat waits on the key and then finds it; chain_id is
-- the chain entry recorded, set in the same transaction.
CREATE TABLE grid_event_external_updates (
    user_id     BIGINT NOT NULL REFERENCES users(id),
    external_id TEXT NOT NULL,
    event_id    BIGINT NOT NULL REFERENCES grid_events(id),
    chain_id    BIGINT REFERENCES grid_event_events(id),
    at          BIGINT NOT NULL,
    PRIMARY KEY (user_id, external_id)
);
