//! The two migration directories describe the same schema (ARCHITECTURE.md, "Invariants").
//!
//! Every migration is applied — by `Store::open`, as the product does — to a fresh SQLite
//! file and a fresh PostgreSQL database; then tables, columns (name, nullability, a
//! normalised type class) and indexes (name, columns in order, unique) are read back from
//! each catalogue and compared. A difference that is deliberate is listed in `DELIBERATE`
//! with its reason; anything else fails the test, naming the table and the column or index.

mod common;

use onewindow_store::{Store, StoreOptions};
use sqlx::{Connection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// A column as both catalogues can say it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    name: String,
    class: &'static str,
    nullable: bool,
}

/// An index as both catalogues can say it. Indexes that back a `UNIQUE` column constraint
/// are named by the database (`sqlite_autoindex_…`, `…_key`), so they are compared by
/// their columns under the name `unique(col, …)`; primary keys are left out (they are
/// columns' business, and both spell them the same in the migrations).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    name: String,
    columns: Vec<String>,
    unique: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeSet<Column>,
    indexes: BTreeSet<Index>,
}

type Schema = BTreeMap<String, Table>;

/// Differences that are meant, as (table, what, reason). `what` is `column NAME` or
/// `index NAME`, as the comparison names it. A listed difference that disappears fails
/// the test too, so the list stays true.
const DELIBERATE: &[(&str, &str, &str)] = &[(
    "catalog_items",
    "column owner_org_id",
    "NOT NULL on PostgreSQL only (0007): SQLite cannot add a NOT NULL column with a \
     reference, nor set NOT NULL later short of rebuilding catalog_items, which the item \
     versions and cases reference; the store writes the owner on every insert \
     (store::catalog), so no row is NULL on either backend",
)];

/// The type class of a declared type: what a value of the column is, whatever the
/// backend calls it.
fn class(declared: &str) -> &'static str {
    let t = declared.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or("").trim();
    match base {
        "integer" | "int" | "int2" | "int4" | "int8" | "bigint" | "smallint" | "bigserial"
        | "serial" => "integer",
        "text" | "varchar" | "character varying" | "char" | "character" | "clob" => "text",
        "real" | "double precision" | "double" | "float" | "float4" | "float8" | "numeric"
        | "decimal" => "real",
        "boolean" | "bool" => "bool",
        "blob" | "bytea" => "bytes",
        b if b.starts_with("timestamp") || b == "date" || b == "time" => "timestamp",
        other => panic!("unknown column type {other:?}: add it to the type classes"),
    }
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("name"))
    .collect();
    let mut schema = Schema::new();
    for table in tables {
        let mut t = Table::default();
        for r in sqlx::query("SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        {
            let pk: i64 = r.get("pk");
            let nn: i64 = r.get("nn");
            t.columns.insert(Column {
                name: r.get("name"),
                class: class(&r.get::<String, _>("type")),
                // An INTEGER PRIMARY KEY is the rowid: never NULL, whatever the pragma says.
                nullable: nn == 0 && pk == 0,
            });
        }
        for r in sqlx::query("SELECT name, \"unique\" AS u, origin FROM pragma_index_list($1)")
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        {
            let origin: String = r.get("origin");
            if origin == "pk" {
                continue;
            }
            let name: String = r.get("name");
            let columns: Vec<String> =
                sqlx::query("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|c| {
                        c.get::<Option<String>, _>("name")
                            .unwrap_or_else(|| "<expression>".into())
                    })
                    .collect();
            let name = if origin == "u" {
                format!("unique({})", columns.join(", "))
            } else {
                name
            };
            t.indexes.insert(Index {
                name,
                columns,
                unique: r.get::<i64, _>("u") == 1,
            });
        }
        schema.insert(table, t);
    }
    conn.close().await.unwrap();
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let mut schema = Schema::new();
    for r in sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
         AND table_name IN (SELECT table_name FROM information_schema.tables \
                            WHERE table_schema = 'public' AND table_type = 'BASE TABLE')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        schema
            .entry(r.get("t"))
            .or_default()
            .columns
            .insert(Column {
                name: r.get("c"),
                class: class(&r.get::<String, _>("ty")),
                nullable: r.get::<String, _>("n") == "YES",
            });
    }
    for r in sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS name, ix.indisunique AS uniq, \
         EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u') AS by_constraint, \
         ARRAY(SELECT COALESCE(a.attname::text, '<expression>') \
               FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
               LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum \
               ORDER BY k.ord) AS cols \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND NOT ix.indisprimary AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        let columns: Vec<String> = r.get("cols");
        let name = if r.get::<bool, _>("by_constraint") {
            format!("unique({})", columns.join(", "))
        } else {
            r.get("name")
        };
        schema.entry(r.get("t")).or_default().indexes.insert(Index {
            name,
            columns,
            unique: r.get("uniq"),
        });
    }
    conn.close().await.unwrap();
    schema
}

/// Every difference between the two, as (table, what, description).
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let tables: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for table in tables {
        let (Some(s), Some(p)) = (sqlite.get(table), postgres.get(table)) else {
            let only = if sqlite.contains_key(table) {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            out.push((table.clone(), "table".into(), format!("only on {only}")));
            continue;
        };
        let cols = |t: &Table| -> BTreeMap<String, Column> {
            t.columns
                .iter()
                .map(|c| (c.name.clone(), c.clone()))
                .collect()
        };
        let (sc, pc) = (cols(s), cols(p));
        for name in sc.keys().chain(pc.keys()).collect::<BTreeSet<_>>() {
            let what = format!("column {name}");
            match (sc.get(name), pc.get(name)) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => out.push((
                    table.clone(),
                    what,
                    format!("SQLite {a:?} / PostgreSQL {b:?}"),
                )),
            }
        }
        let idx = |t: &Table| -> BTreeMap<String, Index> {
            t.indexes
                .iter()
                .map(|i| (i.name.clone(), i.clone()))
                .collect()
        };
        let (si, pi) = (idx(s), idx(p));
        for name in si.keys().chain(pi.keys()).collect::<BTreeSet<_>>() {
            let what = format!("index {name}");
            match (si.get(name), pi.get(name)) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => out.push((
                    table.clone(),
                    what,
                    format!("SQLite {a:?} / PostgreSQL {b:?}"),
                )),
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_directories_describe_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("parity.db").display());
    let store = Store::open(&sqlite_url, &StoreOptions::default())
        .await
        .unwrap();
    store.close().await;
    // A clone of the kit's template, which `Store::open` migrated: every migration applied.
    let pg_url = common::fresh_pg_url().await;
    let store = Store::open(&pg_url, &StoreOptions::default())
        .await
        .unwrap();
    store.close().await;

    let sqlite = sqlite_schema(&sqlite_url).await;
    let postgres = postgres_schema(&pg_url).await;
    assert!(
        sqlite.len() > 20 && sqlite.contains_key("cases"),
        "{:?}",
        sqlite.keys()
    );
    // The comparison sees what it must: this column and index, say.
    let cases = &sqlite["cases"];
    assert!(cases.columns.contains(&Column {
        name: "deadline_pending_year".into(),
        class: "integer",
        nullable: true
    }));
    assert!(cases
        .indexes
        .iter()
        .any(|i| i.name == "cases_deadline_pending"
            && i.columns == ["deadline_pending_year", "id"]
            && !i.unique));
    assert!(cases
        .indexes
        .iter()
        .any(|i| i.name == "unique(case_no)" && i.unique));

    let found = differences(&sqlite, &postgres);
    let unexplained: Vec<String> = found
        .iter()
        .filter(|(t, w, _)| !DELIBERATE.iter().any(|(dt, dw, _)| dt == t && dw == w))
        .map(|(t, w, d)| format!("{t}: {w}: {d}"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "the migration directories differ (fix with a new migration in both, or list the \
         difference in DELIBERATE with its reason):\n{}",
        unexplained.join("\n")
    );
    // A listed difference that no longer exists is stale: remove it.
    for (t, w, why) in DELIBERATE {
        assert!(
            found.iter().any(|(ft, fw, _)| ft == t && fw == w),
            "DELIBERATE lists {t}: {w} ({why}), which no longer differs"
        );
    }
}

/// The comparison itself: a type class, nullability or index difference is reported.
#[test]
fn the_comparison_reports_each_kind_of_difference() {
    assert_eq!(class("BIGINT"), "integer");
    assert_eq!(class("INTEGER"), "integer");
    assert_eq!(class("character varying"), "text");
    assert_eq!(class("double precision"), "real");
    assert_eq!(class("BYTEA"), "bytes");
    assert_eq!(class("timestamp with time zone"), "timestamp");
    let table = |nullable: bool, unique: bool| {
        let mut t = Table::default();
        t.columns.insert(Column {
            name: "a".into(),
            class: "integer",
            nullable,
        });
        t.indexes.insert(Index {
            name: "t_a".into(),
            columns: vec!["a".into()],
            unique,
        });
        Schema::from([("t".to_string(), t)])
    };
    assert!(differences(&table(true, false), &table(true, false)).is_empty());
    let d = differences(&table(true, false), &table(false, false));
    assert_eq!((d[0].0.as_str(), d[0].1.as_str()), ("t", "column a"));
    let d = differences(&table(true, false), &table(true, true));
    assert_eq!(d[0].1, "index t_a");
    let d = differences(&table(true, false), &Schema::new());
    assert_eq!(d[0].2, "only on SQLite");
}

/// The changes each table's triggers act on, as (table, INSERT/UPDATE/DELETE).
type Triggers = BTreeSet<(String, String)>;

async fn sqlite_triggers(url: &str) -> Triggers {
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let rows = sqlx::query("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        .fetch_all(&mut c)
        .await
        .unwrap();
    let mut out = Triggers::new();
    for r in &rows {
        let sql = r.get::<String, _>("sql").to_ascii_uppercase();
        for event in ["INSERT", "UPDATE", "DELETE"] {
            if sql.contains(&format!(" {event} ON ")) || sql.contains(&format!(" {event} OF ")) {
                out.insert((r.get("tbl_name"), event.to_string()));
            }
        }
    }
    out
}

async fn postgres_triggers(url: &str) -> Triggers {
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(
        "SELECT event_object_table::text AS t, event_manipulation::text AS e \
         FROM information_schema.triggers WHERE trigger_schema = current_schema()",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("t"), r.get("e")))
    .collect()
}

/// Triggers are schema too: both backends refuse the same changes (the append-only money
/// tables of migration 0018: UPDATE and DELETE of payments, refunds and waivers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("triggers.db").display());
    Store::open(&sqlite_url, &StoreOptions::default())
        .await
        .unwrap()
        .close()
        .await;
    let pg_url = common::fresh_pg_url().await;
    Store::open(&pg_url, &StoreOptions::default())
        .await
        .unwrap()
        .close()
        .await;
    let sqlite = sqlite_triggers(&sqlite_url).await;
    let postgres = postgres_triggers(&pg_url).await;
    for table in ["case_payments", "case_refunds", "case_fee_waivers"] {
        for event in ["UPDATE", "DELETE"] {
            assert!(
                sqlite.contains(&(table.to_string(), event.to_string())),
                "{table} {event}: {sqlite:?}"
            );
        }
    }
    assert_eq!(sqlite, postgres);
}
