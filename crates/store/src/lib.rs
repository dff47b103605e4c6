//! onewindow's storage layer: one code base over SQLite (default, embedded) and
//! PostgreSQL (several app instances), through sqlx's `Any` driver.
//!
//! Rules every module here follows:
//! - SQL is written once, in the dialect both databases accept: `$1` placeholders,
//!   `RETURNING`, `ON CONFLICT`, BIGINT microsecond timestamps, 0/1 flags.
//!   The few real differences (row locks) live in [`Backend`].
//! - Functions that change data take `&mut AnyConnection` from a [`Tx`] that the caller
//!   commits, and append their audit event through [`audit::append`] in that same
//!   transaction: a request commits whole or changes nothing.
//! - Reads go through [`Store::reader`]; on SQLite that is a pool of read connections
//!   beside the single writer connection, so reads never wait for a write lock.

pub mod apikeys;
pub mod appointments;
pub mod audit;
pub mod calendar;
pub mod cases;
pub mod catalog;
pub mod clock;
pub mod demo;
pub mod error;
pub mod orgs;
pub mod page;
pub mod passwords;
pub mod queue;
pub mod sessions;
pub mod settings;
pub mod users;

pub use error::StoreError;
pub use sqlx::AnyConnection;
pub use sqlx::Error as SqlxError;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// A write transaction. Commit it, or drop it to roll back.
pub type Tx = sqlx::Transaction<'static, Any>;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database is underneath. Only locking and a few maintenance commands differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// Suffix for a `SELECT` that must lock the rows it reads until commit. SQLite has a
    /// single writer, so any row read inside a write transaction is already stable.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// SQLite's durability setting in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSync {
    /// Survives a process crash (kill -9); the last commits may be lost on power loss.
    Normal,
    /// Survives power loss too, at roughly one fsync per commit.
    Full,
}

impl FromStr for SqliteSync {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(SqliteSync::Normal),
            "full" => Ok(SqliteSync::Full),
            other => Err(format!(
                "unknown SQLite synchronous mode {other:?} (normal|full)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for PostgreSQL, or readers for SQLite.
    pub max_connections: u32,
    pub sqlite_sync: SqliteSync,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            sqlite_sync: SqliteSync::Normal,
        }
    }
}

/// Handle to the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// Kept for the few things a pool cannot do (PostgreSQL LISTEN).
    url: String,
    /// The secret list cursors are signed with, read from the database on first use.
    cursor_key: std::sync::Arc<tokio::sync::OnceCell<page::CursorKey>>,
}

static MIGRATIONS_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATIONS_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connects without migrating. A `sqlite:` URL creates the file if it is missing.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Config(format!(
                "database URL must start with sqlite: or postgres:, got {url:?}"
            ))
        })?;
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url_with_create(url);
                let sync = match opts.sqlite_sync {
                    SqliteSync::Normal => "NORMAL",
                    SqliteSync::Full => "FULL",
                };
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;"
                );
                let p = pragmas.clone();
                // One writer: SQLite allows one at a time anyway, and queueing in the pool
                // is cheaper and fairer than SQLITE_BUSY retries.
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |conn, _| {
                        let p = p.clone();
                        Box::pin(async move {
                            conn.execute(p.as_str()).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(opts.max_connections.max(1))
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |conn, _| {
                        let p = pragmas.clone();
                        Box::pin(async move {
                            conn.execute(p.as_str()).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                Ok(Store {
                    backend,
                    read,
                    write,
                    url: url.to_string(),
                    cursor_key: Default::default(),
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(opts.max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                Ok(Store {
                    backend,
                    read: pool.clone(),
                    write: pool,
                    url: url.to_string(),
                    cursor_key: Default::default(),
                })
            }
        }
    }

    /// Connects and applies pending migrations (safe with several instances starting at
    /// once: on PostgreSQL sqlx takes an advisory lock while migrating).
    pub async fn open(url: &str, opts: &StoreOptions) -> Result<Store> {
        let store = Store::connect(url, opts).await?;
        store.migrate().await?;
        calendar::ensure_shipped(&store, chrono::Utc::now().timestamp_micros()).await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATIONS_SQLITE,
            Backend::Postgres => &MIGRATIONS_POSTGRES,
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Config(format!("migration failed: {e}")))?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The installation's secret for signing list cursors ([`page`]).
    pub async fn cursor_key(&self) -> Result<&page::CursorKey> {
        self.cursor_key
            .get_or_try_init(|| page::load_key(&self.write))
            .await
    }

    /// Pool for reads outside a write transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Starts the one write transaction of a request.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.write.begin().await?)
    }

    /// `SELECT 1` on both pools: what /healthz reports.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        sqlx::query("SELECT 1").execute(&self.write).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Reads a 0/1 flag column.
pub(crate) fn flag(row: &AnyRow, col: &str) -> bool {
    use sqlx::Row;
    row.get::<i64, _>(col) != 0
}

/// The exclusive upper bound of every path below `prefix` (which ends in `/`): the next
/// byte after `/` is `0`, so `path >= prefix AND path < bound` is an index range scan.
pub(crate) fn path_upper_bound(prefix: &str) -> String {
    let mut s = prefix.trim_end_matches('/').to_string();
    s.push('0');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_bounds() {
        assert_eq!(path_upper_bound("/1/4/"), "/1/40");
        assert!("/1/4/9/" >= "/1/4/" && "/1/4/9/" < "/1/40");
        assert!("/1/41/" >= "/1/40");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://h"), None);
        assert_eq!(
            sqlite_url_with_create("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
    }
}
