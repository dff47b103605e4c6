-- Every catalog item belongs to an organisation (a city or a district): editing it needs
-- the catalog permission at that organisation, its responsible department must lie inside
-- it, and its cases are taken in and routed only inside it (ARCHITECTURE.md, "Shared
-- reference data: who may edit it"). Items that existed before belong to the root of their
-- department's tree, i.e. the city. Kept in step with sqlite/0007_catalog_owner.sql.
ALTER TABLE catalog_items ADD COLUMN owner_org_id BIGINT REFERENCES orgs(id);
UPDATE catalog_items SET owner_org_id = (
    SELECT r.id FROM orgs d JOIN orgs r ON r.parent_id IS NULL AND d.path LIKE r.path || '%'
    WHERE d.id = catalog_items.department_id
);
-- SQLite cannot add a NOT NULL column with a reference; there the store always writes it.
ALTER TABLE catalog_items ALTER COLUMN owner_org_id SET NOT NULL;
CREATE INDEX catalog_items_owner ON catalog_items(owner_org_id);
