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
pub mod complaints;
pub mod demo;
pub mod error;
pub mod escalation;
pub mod fallback;
pub mod fees;
pub mod figures;
pub mod grants;
pub mod grid;
pub mod materials;
pub mod notices;
pub mod orgs;
pub mod page;
pub mod passwords;
pub mod places;
pub mod queue;
pub mod ratings;
pub mod sessions;
pub mod settings;
pub mod users;
pub mod visits;
pub mod writer;

pub use error::StoreError;
pub use sqlx::AnyConnection;
pub use sqlx::Error as SqlxError;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Connection, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A request's write transaction: commit it, or drop it to roll back. Derefs to the
/// connection, so store functions take `&mut AnyConnection` from it.
///
/// On SQLite it is a savepoint inside a group-commit batch ([`writer`]); `commit` returns
/// once the batch is durable. On PostgreSQL it is an ordinary transaction on the pool;
/// after its commit the audit chainer is woken ([`audit::chain_pending`]).
pub struct Tx(TxInner);

enum TxInner {
    Pool {
        tx: sqlx::Transaction<'static, Any>,
        chainer: Arc<audit::Chainer>,
    },
    Group(writer::GroupTx),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self.0 {
            TxInner::Pool { tx, chainer } => {
                tx.commit().await?;
                chainer.wake();
                Ok(())
            }
            TxInner::Group(g) => g.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<()> {
        match self.0 {
            TxInner::Pool { tx, .. } => Ok(tx.rollback().await?),
            TxInner::Group(g) => g.rollback().await,
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            TxInner::Pool { tx, .. } => tx,
            TxInner::Group(g) => g,
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            TxInner::Pool { tx, .. } => &mut *tx,
            TxInner::Group(g) => &mut *g,
        }
    }
}

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
    /// How writes reach the database: SQLite's group-commit writer, or PostgreSQL's pool.
    write: WritePath,
    /// Kept for the few things a pool cannot do (PostgreSQL LISTEN).
    url: String,
    /// The secret list cursors are signed with, read from the database on first use.
    cursor_key: std::sync::Arc<tokio::sync::OnceCell<page::CursorKey>>,
}

#[derive(Clone, Debug)]
enum WritePath {
    Group(Arc<writer::Writer>),
    Pool {
        pool: AnyPool,
        chainer: Arc<audit::Chainer>,
    },
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
                // One writer connection behind the group-commit writer: SQLite allows one
                // writer at a time anyway, and batching commits is what lifts the fsync cap.
                let mut conn = sqlx::AnyConnection::connect(&url).await?;
                conn.execute(pragmas.as_str()).await?;
                let write = WritePath::Group(writer::Writer::start(conn));
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
                let chainer = audit::Chainer::new(pool.clone());
                Ok(Store {
                    backend,
                    read: pool.clone(),
                    write: WritePath::Pool { pool, chainer },
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
        materials::adopt_shipped(&store, chrono::Utc::now().timestamp_micros()).await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATIONS_SQLITE,
            Backend::Postgres => &MIGRATIONS_POSTGRES,
        };
        let migrated = match &self.write {
            WritePath::Group(w) => migrator.run(&mut *w.exclusive().await).await,
            WritePath::Pool { pool, .. } => migrator.run(pool).await,
        };
        migrated.map_err(|e| StoreError::Config(format!("migration failed: {e}")))?;
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
            .get_or_try_init(|| async {
                let mut tx = self.begin().await?;
                let key = page::load_key(&mut tx).await?;
                tx.commit().await?;
                Ok(key)
            })
            .await
    }

    /// Pool for reads outside a write transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Starts the one write transaction of a request.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx(match &self.write {
            WritePath::Group(w) => TxInner::Group(writer::GroupTx::begin(w).await?),
            WritePath::Pool { pool, chainer } => TxInner::Pool {
                tx: pool.begin().await?,
                chainer: chainer.clone(),
            },
        }))
    }

    /// Chains the audit events still pending (PostgreSQL; nothing to do on SQLite), so a
    /// reader of the chain sees every committed event.
    pub async fn settle_audit(&self) -> Result<u64> {
        match &self.write {
            WritePath::Group(_) => Ok(0),
            WritePath::Pool { pool, .. } => audit::chain_pending(pool).await,
        }
    }

    /// The group-commit writer's counters (SQLite; `None` on PostgreSQL).
    pub async fn writer_stats(&self) -> Option<writer::WriterStats> {
        match &self.write {
            WritePath::Group(w) => Some(w.stats().await),
            WritePath::Pool { .. } => None,
        }
    }

    /// `SELECT 1` on both pools: what /healthz reports.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        let mut tx = self.begin().await?;
        sqlx::query("SELECT 1").execute(&mut *tx).await?;
        tx.rollback().await
    }

    pub async fn close(&self) {
        match &self.write {
            WritePath::Group(w) => w.close().await,
            WritePath::Pool { pool, chainer } => {
                // Chain what this instance wrote before it goes.
                let _ = audit::chain_pending(pool).await;
                chainer.stop();
                pool.close().await;
            }
        }
        self.read.close().await;
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
