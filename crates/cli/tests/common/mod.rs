//! Test kit: the real server on port 0 over a fresh database per test — an SQLite file in a
//! temp dir, or a PostgreSQL database cloned from a migrated template — with a manual clock.
#![allow(dead_code)]

pub mod browser;
pub mod grid;

use onewindow_store::clock::ManualClock;
use onewindow_store::{demo, Store, StoreOptions};
use onewindow_web::{AppState, WebConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::{oneshot, Mutex, OnceCell};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// 2026-11-23 09:00 Beijing time: a Monday morning in the hall.
pub const START_MICROS: i64 = 1_795_395_600_000_000;

pub struct TestApp {
    pub base: String,
    /// The running app's state (hashing counters, for tests that measure them).
    pub state: AppState,
    pub db_url: String,
    pub store: Store,
    pub clock: ManualClock,
    pub backend: Db,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("ONEWINDOW_TEST_PG_URL").expect(
        "ONEWINDOW_TEST_PG_URL is not set: run the tests through scripts/test, which starts a throwaway PostgreSQL",
    )
}

fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL has a database part");
    format!("{base}/{db}")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static CREATE_LOCK: Mutex<()> = Mutex::const_new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A migrated template database, made once per test binary; each test clones it, which
/// is much faster than migrating a fresh database every time.
async fn pg_template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let admin = pg_admin_url();
            let name = format!("ow_tpl_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to test PostgreSQL");
            drop_databases_of_finished_binaries(&mut conn).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            let store = Store::open(&with_db(&admin, &name), &StoreOptions::default())
                .await
                .expect("migrate template");
            store.close().await;
            name
        })
        .await
}

/// Test binaries run one after another and each leaves its databases behind (a running
/// app may still hold one until the process ends). Before a binary makes its template it
/// drops every test database whose process is gone, so the server's disk holds one
/// binary's databases at a time, not the whole suite's — CI once ran out of disk.
async fn drop_databases_of_finished_binaries(conn: &mut sqlx::PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'ow\\_t\\_%' OR datname LIKE 'ow\\_tpl\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("list test databases");
    for name in names {
        let pid = name
            .trim_start_matches("ow_tpl_")
            .trim_start_matches("ow_t_")
            .split('_')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        let finished = pid.is_some_and(|p| {
            p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists()
        });
        if finished {
            // WITH (FORCE) is PostgreSQL 13+; a leftover connection must not stop the sweep.
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// A fresh PostgreSQL database URL for one test.
pub async fn fresh_pg_url() -> String {
    let template = pg_template().await;
    let admin = pg_admin_url();
    let name = format!(
        "ow_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let _guard = CREATE_LOCK.lock().await;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to test PostgreSQL");
    // FILE_COPY copies the template's files instead of writing every page to the WAL
    // (PostgreSQL 15's default), which halves the disk and I/O each test costs.
    // The template's own setup connections close asynchronously; PostgreSQL refuses to
    // copy a database someone is still connected to (55006), so a clone right after the
    // template was built is retried for a moment.
    let mut attempt = 0;
    loop {
        let created = sqlx::query(&format!(
            "CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"
        ))
        .execute(&mut conn)
        .await;
        match created {
            Ok(_) => break,
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("55006") && attempt < 50 =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("clone template: {e}"),
        }
    }
    conn.close().await.unwrap();
    with_db(&admin, &name)
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// [`spawn_app`] with settings changed by `configure` (limits, timeouts).
pub async fn spawn_app_with(db: Db, configure: impl FnOnce(&mut WebConfig)) -> TestApp {
    let (url, dir) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("onewindow.db").display());
            (url, Some(Arc::new(dir)))
        }
        Db::Postgres => (fresh_pg_url().await, None),
    };
    let app = spawn_app_on_with(&url, db, ManualClock::at(START_MICROS), dir, configure).await;
    demo::seed(&app.store, app.clock_now())
        .await
        .expect("seed demo");
    app
}

/// Another app instance over an existing database (same clock given by the caller).
pub async fn spawn_app_on(
    url: &str,
    db: Db,
    clock: ManualClock,
    dir: Option<Arc<tempfile::TempDir>>,
) -> TestApp {
    spawn_app_on_with(url, db, clock, dir, |_| {}).await
}

/// [`spawn_app_on`] with settings changed by `configure`.
pub async fn spawn_app_on_with(
    url: &str,
    db: Db,
    clock: ManualClock,
    dir: Option<Arc<tempfile::TempDir>>,
    configure: impl FnOnce(&mut WebConfig),
) -> TestApp {
    let opts = StoreOptions {
        max_connections: 4,
        ..StoreOptions::default()
    };
    let store = Store::open(url, &opts).await.expect("open store");
    let mut config = WebConfig {
        demo: true,
        ..WebConfig::default()
    };
    configure(&mut config);
    let state = AppState::new(store.clone(), Arc::new(clock.clone()), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(onewindow_web::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        state,
        db_url: url.to_string(),
        store,
        clock,
        backend: db,
        shutdown: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

impl TestApp {
    pub fn clock_now(&self) -> i64 {
        use onewindow_store::clock::Clock;
        self.clock.now()
    }

    pub fn dir(&self) -> Option<Arc<tempfile::TempDir>> {
        self._dir.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A cookie-keeping client that does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Logs in through the API; the client then carries the session cookie.
    pub async fn login(&self, username: &str) -> Api {
        self.login_with(username, demo::DEMO_PASSWORD)
            .await
            .expect("login")
    }

    pub async fn login_with(&self, username: &str, password: &str) -> Result<Api, Value> {
        let client = self.browser();
        let res = client
            .post(self.url("/api/v1/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        if status != StatusCode::OK {
            return Err(body);
        }
        Ok(Api {
            base: self.base.clone(),
            client,
            csrf: body["csrf_token"].as_str().unwrap().to_string(),
            bearer: None,
            user: body["user"].clone(),
        })
    }

    pub fn with_key(&self, secret: &str) -> Api {
        Api {
            base: self.base.clone(),
            client: self.browser(),
            csrf: String::new(),
            bearer: Some(secret.to_string()),
            user: Value::Null,
        }
    }

    /// The chain's head seq, after chaining what is pending (PostgreSQL chains just after
    /// commit, in the background).
    pub async fn audit_head(&self) -> i64 {
        use sqlx::Row;
        self.store.settle_audit().await.unwrap();
        sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(self.store.reader())
            .await
            .unwrap()
            .get("seq")
    }

    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        if table == "audit_events" {
            self.store.settle_audit().await.unwrap();
        }
        sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(self.store.reader())
            .await
            .unwrap()
            .get("n")
    }

    /// Id of a demo organisation by its code.
    pub async fn org_id(&self, code: &str) -> i64 {
        onewindow_store::orgs::find_by_code(self.store.reader(), code)
            .await
            .unwrap()
            .expect("org exists")
            .id
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        self.store.close().await;
    }
}

/// A signed-in API client: a session with its CSRF token, or an API key.
#[derive(Debug)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
    pub bearer: Option<String>,
    pub user: Value,
}

impl Api {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(b) = &self.bearer {
            r = r.bearer_auth(b);
        } else {
            r = r.header("x-csrf-token", &self.csrf);
        }
        r
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::done(self.req(reqwest::Method::GET, path).send().await.unwrap()).await
    }

    /// A page's HTML as this user sees it.
    pub async fn get_text(&self, path: &str) -> String {
        let res = self.req(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.text().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::done(
            self.req(reqwest::Method::POST, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Posts a text body (a CSV import, say) with its content type.
    pub async fn post_text(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        Self::done(
            self.req(reqwest::Method::POST, path)
                .header("content-type", content_type)
                .body(body.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::done(
            self.req(reqwest::Method::PATCH, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::done(
            self.req(reqwest::Method::PUT, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        Self::done(
            self.req(reqwest::Method::DELETE, path)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn done(res: reqwest::Response) -> (StatusCode, Value) {
        let status = res.status();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text().await.unwrap();
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(
                ct, "application/problem+json",
                "API errors are problem+json: {text}"
            );
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::spawn_app(super::common::Db::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::spawn_app(super::common::Db::Postgres).await).await
                }
            )*
        }
    };
}
