-- A community's (社区) boundary, so that a street's grids can be checked to lie inside the
-- community they name (issue 14 §1: "the grid inside its community"). GeoJSON text as
-- grid_areas keeps it (a Polygon or MultiPolygon, WGS84), checked by the domain on import.
-- Optional: a community without a boundary leaves its grids unchecked on that point.
CREATE TABLE community_areas (
    org_id      BIGINT PRIMARY KEY REFERENCES orgs(id),
    geojson     TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
