-- 网格事件 (issue 14, domain::grid): grids with their polygons, buildings, grid workers,
-- event categories (Open311 services), events with their chain (一事件一链), photos, and
-- the daily rollup the figures are read from.
-- Kept in step with postgres/0025_grid.sql.
--
-- Open311 clients authenticate with the existing API keys (api_keys, an API key of a
-- service account): the key's user is recorded as the reporting client, its organisation
-- is the street an event outside every grid falls back to. No second key table: revoking,
-- listing and auditing keys stays one thing.

-- A grid: its area as GeoJSON text (a Polygon or MultiPolygon, WGS84, as imported and
-- checked by domain::grid::geometry::import_geojson) and its bounding box, so the street's
-- grids can be read for a point without parsing every polygon. org_id is the grid's place
-- in the organisation tree (an org of kind grid) when one has the grid's code.
CREATE TABLE grid_areas (
    id                INTEGER PRIMARY KEY,
    code              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    org_id            BIGINT REFERENCES orgs(id),
    community_org_id  BIGINT REFERENCES orgs(id),
    street_org_id     BIGINT NOT NULL REFERENCES orgs(id),
    households        BIGINT,
    geojson           TEXT NOT NULL,
    min_lon           DOUBLE PRECISION NOT NULL,
    min_lat           DOUBLE PRECISION NOT NULL,
    max_lon           DOUBLE PRECISION NOT NULL,
    max_lat           DOUBLE PRECISION NOT NULL,
    version           BIGINT NOT NULL DEFAULT 1,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX grid_areas_street ON grid_areas (street_org_id, code);

-- Buildings (楼栋): a point (the entrance) or a footprint, as GeoJSON; anchor lon/lat.
CREATE TABLE grid_buildings (
    id          INTEGER PRIMARY KEY,
    grid_id     BIGINT REFERENCES grid_areas(id),
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    households  BIGINT,
    geojson     TEXT NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX grid_buildings_grid ON grid_buildings (grid_id, code);

-- Grid workers: one full-time and two part-time per grid (seed §5.1); a worker may be in
-- several grids.
CREATE TABLE grid_workers (
    grid_id     BIGINT NOT NULL REFERENCES grid_areas(id),
    user_id     BIGINT NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (grid_id, user_id)
);
CREATE INDEX grid_workers_user ON grid_workers (user_id, grid_id);

-- Event categories (Open311 services): the limits as DeadlineRule::as_stored
-- (`calendar_days:1`), the attributes as the domain's JSON.
CREATE TABLE grid_categories (
    id                     INTEGER PRIMARY KEY,
    org_id                 BIGINT NOT NULL REFERENCES orgs(id),
    code                   TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    grp                    TEXT NOT NULL DEFAULT '',
    keywords               TEXT NOT NULL DEFAULT '',
    default_department_id  BIGINT REFERENCES orgs(id),
    respond_rule           TEXT NOT NULL,
    close_rule             TEXT NOT NULL,
    help_text              TEXT NOT NULL DEFAULT '',
    attributes             TEXT NOT NULL DEFAULT '[]',
    active                 BIGINT NOT NULL DEFAULT 1,
    version                BIGINT NOT NULL DEFAULT 1,
    updated_at             BIGINT NOT NULL
);

-- An event. grid_id is NULL with outside_grids = 1 when the place lies in no grid (or has
-- no coordinates): kept for the street, with a warning on its board, never dropped. Its
-- Open311 service_request_id is its id. The due moments are the engine item's, copied so
-- lists and Open311's expected_datetime read them without a calendar.
CREATE TABLE grid_events (
    id                  INTEGER PRIMARY KEY,
    street_org_id       BIGINT NOT NULL REFERENCES orgs(id),
    community_org_id    BIGINT REFERENCES orgs(id),
    grid_id             BIGINT REFERENCES grid_areas(id),
    outside_grids       BIGINT NOT NULL DEFAULT 0,
    category_id         BIGINT NOT NULL REFERENCES grid_categories(id),
    state               TEXT NOT NULL,
    route               TEXT,
    description         TEXT NOT NULL,
    lon                 DOUBLE PRECISION,
    lat                 DOUBLE PRECISION,
    address             TEXT NOT NULL DEFAULT '',
    attributes          TEXT NOT NULL DEFAULT '[]',
    reporter_kind       TEXT NOT NULL,
    reporter_user_id    BIGINT REFERENCES users(id),
    reporter_client     TEXT,
    reporter_contact    TEXT NOT NULL DEFAULT '',
    visibility          TEXT NOT NULL,
    lead_department_id  BIGINT REFERENCES orgs(id),
    co_departments      TEXT NOT NULL DEFAULT '[]',
    original_id         BIGINT REFERENCES grid_events(id),
    reopens             BIGINT NOT NULL DEFAULT 0,
    returns             BIGINT NOT NULL DEFAULT 0,
    reply               TEXT,
    reported_at         BIGINT NOT NULL,
    respond_due_at      BIGINT,
    close_due_at        BIGINT,
    responded_at        BIGINT,
    handled_at          BIGINT,
    closed_at           BIGINT,
    updated_at          BIGINT NOT NULL,
    item_id             BIGINT,
    version             BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX grid_events_street ON grid_events (street_org_id, state, id);
CREATE INDEX grid_events_lead ON grid_events (lead_department_id, state, id);
CREATE INDEX grid_events_reporter ON grid_events (reporter_user_id, id);
CREATE INDEX grid_events_reported ON grid_events (reported_at, id);
-- The duplicate warning reads open events of one category in a bounding box.
CREATE INDEX grid_events_category_place ON grid_events (category_id, lon, lat);

-- The chain (一事件一链): every act, attributed; Open311's servicerequestupdates read it.
CREATE TABLE grid_event_events (
    id          INTEGER PRIMARY KEY,
    event_id    BIGINT NOT NULL REFERENCES grid_events(id),
    act         TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    user_id     BIGINT REFERENCES users(id),
    actor       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX grid_event_events_event ON grid_event_events (event_id, id);
CREATE INDEX grid_event_events_at ON grid_event_events (at, id);

-- Photos, in the database rather than on disk: one backup holds everything, and a photo
-- is written in the same transaction as the event or act it belongs to (no orphan files,
-- no event pointing at a file that was never written). Photos are small (≤ 10 MB, a
-- handful per event) against the rest. original_bytes is the upload as received, for staff;
-- public_bytes is the GPS-stripped copy (domain::grid::photo::strip_gps), the only one ever
-- served outside staff pages.
CREATE TABLE grid_event_photos (
    id          INTEGER PRIMARY KEY,
    event_id    BIGINT NOT NULL REFERENCES grid_events(id),
    phase       TEXT NOT NULL,
    -- The act (a handling) the photo was attached to; NULL while not yet attached.
    act_id      BIGINT REFERENCES grid_event_events(id),
    mime        TEXT NOT NULL,
    original_bytes BLOB   NOT NULL,
    public_bytes   BLOB   NOT NULL,
    size        BIGINT NOT NULL,
    user_id     BIGINT REFERENCES users(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX grid_event_photos_event ON grid_event_photos (event_id, id);

-- The figures' daily rollup, written in each act's transaction, by the day the event was
-- reported (domain::grid::Counts): per street, community, grid, lead department and
-- category (0 for none).
CREATE TABLE grid_rollup (
    street_org_id     BIGINT NOT NULL,
    community_org_id  BIGINT NOT NULL,
    grid_id           BIGINT NOT NULL,
    department_id     BIGINT NOT NULL,
    category_id       BIGINT NOT NULL,
    day               TEXT NOT NULL,
    metric            TEXT NOT NULL,
    n                 BIGINT NOT NULL,
    PRIMARY KEY (street_org_id, community_org_id, grid_id, department_id, category_id, day, metric)
);
CREATE INDEX grid_rollup_day ON grid_rollup (day, street_org_id);
