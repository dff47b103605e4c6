//! The `onewindow` binary: configuration, telemetry and the admin commands.

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use onewindow_domain::access::Role;
use onewindow_domain::ids::IdentifierKind;
use onewindow_domain::org::OrgKind;
use onewindow_store::audit::{Change, Who};
use onewindow_store::clock::{local_date, Clock, SystemClock};
use onewindow_store::{apikeys, demo, orgs, passwords, users, SqliteSync, Store, StoreOptions};
use onewindow_web::{AppState, WebConfig};
use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "onewindow",
    version,
    about = "一窗通办 — one-window government service platform"
)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Database URL: sqlite://FILE (default, created if missing) or postgres://…
    #[arg(
        long = "database",
        env = "ONEWINDOW_DATABASE_URL",
        default_value = "sqlite://onewindow.db",
        global = true
    )]
    url: String,
    /// SQLite durability: normal (survives a crash) or full (survives power loss too).
    #[arg(
        long,
        env = "ONEWINDOW_SQLITE_SYNC",
        default_value = "normal",
        global = true
    )]
    sqlite_sync: SqliteSync,
    /// Maximum database connections (PostgreSQL) or reader connections (SQLite).
    #[arg(
        long,
        env = "ONEWINDOW_DB_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    db_connections: u32,
}

impl DbArgs {
    async fn open(&self) -> Result<Store> {
        let opts = StoreOptions {
            max_connections: self.db_connections,
            sqlite_sync: self.sqlite_sync,
        };
        Store::open(&self.url, &opts)
            .await
            .with_context(|| format!("opening database {}", redact(&self.url)))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Fill an empty database with the demo city, staff and data.
    Demo,
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand, name = "apikey")]
    ApiKey(ApiKeyCommand),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check identifiers in bulk: prints `VALUE<TAB>valid` or `VALUE<TAB>invalid<TAB>reason`.
    Validate {
        /// id-card | credit-code | mobile
        kind: String,
        values: Vec<String>,
    },
    /// What the working-day calendar says (for checking against the official notice).
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Retrain the 接诉即办 department suggestion on the stored requests.
    TrainSuggestions,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ONEWINDOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed the demo city and accounts on an empty database and show them on the login page.
    #[arg(long, env = "ONEWINDOW_DEMO")]
    demo: bool,
    /// Mark cookies Secure (set when serving behind HTTPS).
    #[arg(long, env = "ONEWINDOW_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Password hashes that may run at once (each takes 19 MiB); default: the number of cores.
    #[arg(long, env = "ONEWINDOW_HASH_SLOTS")]
    hash_slots: Option<usize>,
    /// Seconds a login waits for a hashing slot before answering 503.
    #[arg(long, env = "ONEWINDOW_HASH_WAIT_SECS", default_value_t = 5)]
    hash_wait_secs: u64,
    /// Failed login attempts per client address per minute, this instance (0: no limit).
    #[arg(long, env = "ONEWINDOW_LOGIN_LIMIT_IP", default_value_t = 30)]
    login_limit_ip: u32,
    /// Failed login attempts per account name per minute, this instance (0: no limit).
    #[arg(long, env = "ONEWINDOW_LOGIN_LIMIT_ACCOUNT", default_value_t = 10)]
    login_limit_account: u32,
    /// Read the client address from X-Forwarded-For (only behind a proxy that sets it).
    #[arg(long, env = "ONEWINDOW_TRUST_PROXY")]
    trust_proxy: bool,
    /// Largest request body in bytes; the catalog and calendar imports accept at least 8 MiB.
    #[arg(long, env = "ONEWINDOW_MAX_BODY_BYTES", default_value_t = onewindow_web::limits::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Seconds a request may take before it is answered 408 (the display's event stream is exempt).
    #[arg(long, env = "ONEWINDOW_REQUEST_TIMEOUT_SECS", default_value_t = onewindow_web::limits::DEFAULT_REQUEST_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout_secs: u64,
    /// Bearer token /metrics requires; without it /metrics answers loopback clients only.
    #[arg(long, env = "ONEWINDOW_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// The address residents reach the product at (e.g. https://zwfw.example.gov.cn), printed
    /// on receipts and notices; without it, the address the request came to.
    #[arg(long, env = "ONEWINDOW_PUBLIC_URL")]
    public_url: Option<String>,
    /// The hall's SMS gateway: messages to residents are POSTed here as JSON, signed with
    /// --sms-webhook-secret (HMAC-SHA-256, X-Onewindow-Signature). Without it, messages are
    /// only recorded in the outbox.
    #[arg(
        long,
        env = "ONEWINDOW_SMS_WEBHOOK_URL",
        requires = "sms_webhook_secret"
    )]
    sms_webhook_url: Option<String>,
    #[arg(long, env = "ONEWINDOW_SMS_WEBHOOK_SECRET", hide_env_values = true)]
    sms_webhook_secret: Option<String>,
    /// For tests and benchmarks only: the clock starts at this instant (RFC 3339, e.g.
    /// 2026-11-23T10:00:00+08:00) and runs at real speed, so "today" stays inside the
    /// shipped calendar whenever they run. Hidden: a real installation uses the system clock.
    #[arg(long, hide = true)]
    clock_start: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// The clock of `--clock-start`: a fixed start plus the time this process has run.
#[derive(Debug)]
struct StartedClock {
    start: i64,
    since: std::time::Instant,
}

impl Clock for StartedClock {
    fn now(&self) -> i64 {
        self.start + self.since.elapsed().as_micros() as i64
    }
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organisation; without --parent it is a root (a city).
    Create {
        #[arg(long)]
        name: String,
        /// city | district | street | community | grid | department
        #[arg(long)]
        kind: String,
        /// Parent organisation's code.
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        code: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff account. The password comes from --password-stdin or ONEWINDOW_PASSWORD.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// Organisation code.
        #[arg(long)]
        org: String,
        /// Role (repeatable): admin, supervisor, guide_desk, window_clerk, approver,
        /// fallback_officer, grid_worker, dept_handler.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (also lifts a lock-out and ends the user's sessions).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key acting as USER; prints the secret once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-check the whole hash chain; names the first broken event and exits 1 if any.
    Verify,
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// The date N working days after an acceptance date (day 0).
    Due { date: NaiveDate, n: u32 },
    /// `workday` or `holiday`.
    IsWorkday { date: NaiveDate },
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

fn read_password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_string());
    }
    std::env::var("ONEWINDOW_PASSWORD")
        .context("give the password with --password-stdin or in ONEWINDOW_PASSWORD")
}

/// Changes made from the command line are audited as `cli:<os user>`.
fn cli_change(store: &Store) -> Change {
    let os_user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Change {
        backend: store.backend(),
        at: SystemClock.now(),
        who: Who::system(&format!("cli:{os_user}")),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("ONEWINDOW_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let clock = SystemClock;
    match cli.command {
        Command::Serve(args) => {
            init_tracing();
            serve(&cli.db, args).await?;
        }
        Command::Migrate => {
            cli.db.open().await?;
            println!("migrations applied");
        }
        Command::Demo => {
            let store = cli.db.open().await?;
            let seeded = demo::seed(&store, clock.now()).await?;
            if seeded {
                demo::seed_cases(&store, clock.now()).await?;
                demo::seed_station_cases(&store, clock.now()).await?;
                demo::seed_fee_examples(&store, clock.now()).await?;
                demo::seed_ratings(&store, clock.now()).await?;
                onewindow_store::fallback::demo::seed(&store, clock.now()).await?;
                onewindow_store::complaints::demo::seed(&store, clock.now()).await?;
                onewindow_store::grid::demo::seed(&store, clock.now()).await?;
            }
            println!(
                "{}",
                if seeded {
                    "demo data created"
                } else {
                    "database not empty: demo data not created"
                }
            );
            print_demo_accounts();
        }
        Command::Org(OrgCommand::Create {
            name,
            kind,
            parent,
            code,
        }) => {
            let store = cli.db.open().await?;
            let kind = OrgKind::parse(&kind).with_context(|| format!("unknown kind {kind:?}"))?;
            let mut tx = store.begin().await?;
            let parent_id = match parent {
                Some(c) => Some(
                    orgs::find_by_code(&mut *tx, &c)
                        .await?
                        .with_context(|| format!("no organisation with code {c:?}"))?
                        .id,
                ),
                None => None,
            };
            let org = orgs::create(
                &mut tx,
                &cli_change(&store),
                &orgs::NewOrg {
                    parent_id,
                    kind,
                    name,
                    code,
                },
            )
            .await
            .map_err(describe)?;
            tx.commit().await?;
            println!("created organisation {} ({})", org.id, org.name);
        }
        Command::User(UserCommand::Create {
            username,
            name,
            org,
            roles,
            password_stdin,
        }) => {
            let store = cli.db.open().await?;
            let password = read_password(password_stdin)?;
            passwords::check_policy("password", &password, &username)
                .map_err(|e| anyhow::anyhow!(field_errors(&e)))?;
            let roles = roles
                .iter()
                .map(|r| Role::parse(r).with_context(|| format!("unknown role {r:?}")))
                .collect::<Result<Vec<_>>>()?;
            let mut tx = store.begin().await?;
            let org = orgs::find_by_code(&mut *tx, &org)
                .await?
                .with_context(|| format!("no organisation with code {org:?}"))?;
            let hash = passwords::hash(&password);
            let new = users::NewUser {
                org_id: org.id,
                username,
                display_name: name,
                roles,
            };
            let user = users::create(&mut tx, &cli_change(&store), &new, &hash)
                .await
                .map_err(describe)?;
            tx.commit().await?;
            println!("created user {} ({})", user.username, user.id);
        }
        Command::User(UserCommand::Passwd {
            username,
            password_stdin,
        }) => {
            let store = cli.db.open().await?;
            let password = read_password(password_stdin)?;
            passwords::check_policy("password", &password, &username)
                .map_err(|e| anyhow::anyhow!(field_errors(&e)))?;
            let mut tx = store.begin().await?;
            let id = users::find_id_by_username(&mut tx, &username)
                .await?
                .with_context(|| format!("no user {username:?}"))?;
            users::set_password(
                &mut tx,
                &cli_change(&store),
                id,
                &passwords::hash(&password),
                None,
            )
            .await?;
            tx.commit().await?;
            println!("password changed for {username}");
        }
        Command::ApiKey(ApiKeyCommand::Create { user, name }) => {
            let store = cli.db.open().await?;
            let mut tx = store.begin().await?;
            let id = users::find_id_by_username(&mut tx, &user)
                .await?
                .with_context(|| format!("no user {user:?}"))?;
            let (_, secret) = apikeys::create(&mut tx, &cli_change(&store), id, &name)
                .await
                .map_err(describe)?;
            tx.commit().await?;
            println!("{secret}");
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = cli.db.open().await?;
            let v = onewindow_store::audit::verify(&store).await?;
            return Ok(match v.broken {
                None => {
                    println!(
                        "audit chain intact: {} events verified (head {})",
                        v.checked, v.head_seq
                    );
                    ExitCode::SUCCESS
                }
                Some(b) => {
                    println!("audit chain BROKEN at {b}");
                    println!("({} events verified before the break)", v.checked);
                    ExitCode::FAILURE
                }
            });
        }
        Command::Validate { kind, values } => {
            let kind = IdentifierKind::from_name(&kind).with_context(|| {
                format!("unknown kind {kind:?}: use id-card, credit-code or mobile")
            })?;
            if values.is_empty() {
                bail!("give at least one value");
            }
            let today = local_date(clock.now());
            let mut all_ok = true;
            for v in &values {
                match kind.check(v, today) {
                    Ok(()) => println!("{v}\tvalid"),
                    Err(e) => {
                        all_ok = false;
                        println!("{v}\tinvalid\t{e} ({})", e.code());
                    }
                }
            }
            return Ok(if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Command::TrainSuggestions => {
            let store = cli.db.open().await?;
            let mut tx = store.begin().await?;
            let (id, model) =
                onewindow_store::complaints::suggest::train(&mut tx, clock.now(), &[]).await?;
            tx.commit().await?;
            println!("model {id} trained on {} requests", model.trained_on());
        }
        Command::Calendar(cmd) => {
            // What the installation's calendar says: the shipped years plus any the
            // administrator loaded.
            let store = cli.db.open().await?;
            let cal = onewindow_store::calendar::load(store.reader()).await?;
            match cmd {
                CalendarCommand::Due { date, n } => println!("{}", cal.add_working_days(date, n)?),
                CalendarCommand::IsWorkday { date } => {
                    println!(
                        "{}",
                        if cal.is_workday(date)? {
                            "workday"
                        } else {
                            "holiday"
                        }
                    )
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn field_errors(e: &onewindow_domain::validation::FieldErrors) -> String {
    e.0.iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe(e: onewindow_store::StoreError) -> anyhow::Error {
    match e {
        onewindow_store::StoreError::Invalid(f) => anyhow::anyhow!(field_errors(&f)),
        e => e.into(),
    }
}

fn print_demo_accounts() {
    println!(
        "演示账号 demo accounts (password for all: {}):",
        demo::DEMO_PASSWORD
    );
    for a in &demo::ACCOUNTS {
        println!("  {:<16} {:<10} {}", a.username, a.role.label(), a.org);
    }
}

async fn serve(db: &DbArgs, args: ServeArgs) -> Result<()> {
    let store = db.open().await?;
    let clock: Arc<dyn Clock> = match args.clock_start {
        Some(t) => Arc::new(StartedClock {
            start: t.timestamp_micros(),
            since: std::time::Instant::now(),
        }),
        None => Arc::new(SystemClock),
    };
    if args.demo {
        if demo::seed(&store, clock.now()).await? {
            demo::seed_cases(&store, clock.now()).await?;
            demo::seed_station_cases(&store, clock.now()).await?;
            demo::seed_fee_examples(&store, clock.now()).await?;
            demo::seed_ratings(&store, clock.now()).await?;
            onewindow_store::fallback::demo::seed(&store, clock.now()).await?;
            onewindow_store::complaints::demo::seed(&store, clock.now()).await?;
            onewindow_store::grid::demo::seed(&store, clock.now()).await?;
            tracing::info!("demo data created");
        }
        print_demo_accounts();
    }
    let config = WebConfig {
        demo: args.demo,
        secure_cookies: args.secure_cookies,
        hash_slots: args
            .hash_slots
            .unwrap_or_else(|| WebConfig::default().hash_slots),
        hash_wait: std::time::Duration::from_secs(args.hash_wait_secs),
        login_rate: onewindow_web::auth::LoginRate {
            per_ip: args.login_limit_ip,
            per_account: args.login_limit_account,
            ..Default::default()
        },
        trust_proxy: args.trust_proxy,
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs),
        metrics_token: args.metrics_token.filter(|t| !t.trim().is_empty()),
        public_url: args
            .public_url
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty()),
        sms_webhook: match (args.sms_webhook_url, args.sms_webhook_secret) {
            (Some(url), Some(secret)) if !url.trim().is_empty() => {
                Some(onewindow_web::inbox::SmsWebhook {
                    url: url.trim().to_string(),
                    secret,
                })
            }
            _ => None,
        },
        ..WebConfig::default()
    };
    let state = AppState::new(store.clone(), clock, config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "onewindow listening on http://{addr} ({} database)",
        store.backend().name()
    );
    let housekeeping = onewindow_web::spawn_housekeeping(state.clone());
    onewindow_web::serve(listener, state, shutdown_signal()).await?;
    housekeeping.abort();
    store.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// SIGTERM (service managers) or Ctrl-C: stop accepting, finish in-flight requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
