//! The `onewindow` binary's admin commands, run as a user would run them.

use std::process::{Command, Output};

fn onewindow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(args)
        .output()
        .expect("run onewindow")
}

/// A scratch installation: a fresh SQLite file the commands run against.
struct Scratch {
    _dir: tempfile::TempDir,
    db: String,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("ow.db").display());
        Scratch { _dir: dir, db }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut full = vec!["--database", self.db.as_str()];
        full.extend_from_slice(args);
        Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(&full)
            .env("ONEWINDOW_PASSWORD", "bootstrap-2026")
            .output()
            .unwrap()
    }

    /// Changes the database behind the application's back (a tamperer with SQL access).
    fn sql(&self, sql: &str) {
        let (sql, db) = (sql.to_string(), self.db.clone());
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let store = onewindow_store::Store::connect(&db, &Default::default())
                    .await
                    .unwrap();
                let mut tx = store.begin().await.unwrap();
                sqlx::query(&sql).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
                store.close().await;
            })
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn validate_prints_one_line_per_value_and_fails_if_any_is_invalid() {
    let o = onewindow(&[
        "validate",
        "id-card",
        "11010519491231002X",
        "110105194912310021",
        "11010519491231002x",
    ]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "11010519491231002X\tvalid");
    assert!(
        lines[1].starts_with("110105194912310021\tinvalid\t"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("check_character"));
    assert_eq!(lines[2], "11010519491231002x\tvalid");
    assert!(!o.status.success());

    let o = onewindow(&["validate", "mobile", "13800138000", "19912345678"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "13800138000\tvalid\n19912345678\tvalid\n");

    let o = onewindow(&[
        "validate",
        "credit-code",
        "91350100M000100Y43",
        "91350100M000100YI0",
    ]);
    let out = stdout(&o);
    assert!(out.contains("91350100M000100YI0\tinvalid\t"), "{out}");
    assert!(!o.status.success());

    let o = onewindow(&["validate", "passport", "E1234"]);
    assert!(!o.status.success());
}

#[test]
fn calendar_commands_answer_from_the_shipped_arrangements() {
    let scratch = Scratch::new();
    let onewindow = |args: &[&str]| scratch.run(args);
    // Accepted Friday 26 Sep 2025: 28 Sep (Sunday) is a make-up working day, then the
    // National Day / Mid-Autumn break to 8 Oct.
    let o = onewindow(&["calendar", "due", "2025-09-26", "5"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "2025-10-10\n");
    let o = onewindow(&["calendar", "is-workday", "2026-02-14"]);
    assert_eq!(stdout(&o), "workday\n");
    let o = onewindow(&["calendar", "is-workday", "2026-10-01"]);
    assert_eq!(stdout(&o), "holiday\n");
    let o = onewindow(&["calendar", "due", "2027-03-01", "3"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("2027"));
}

#[test]
fn bootstrap_a_fresh_install_then_detect_a_tampered_audit_log() {
    let scratch = Scratch::new();
    let run = |args: &[&str]| scratch.run(args);
    assert!(run(&["migrate"]).status.success());
    let o = run(&[
        "org", "create", "--name", "某市", "--kind", "city", "--code", "city",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "org", "create", "--name", "某区", "--kind", "district", "--parent", "city", "--code", "d1",
    ]);
    assert!(o.status.success());
    let o = run(&[
        "user",
        "create",
        "--username",
        "root",
        "--name",
        "管理员",
        "--org",
        "city",
        "--role",
        "admin",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "user",
        "create",
        "--username",
        "root",
        "--name",
        "重复",
        "--org",
        "city",
        "--role",
        "admin",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("username"));
    let o = run(&["apikey", "create", "--user", "root", "--name", "导入"]);
    assert!(stdout(&o).starts_with("ow_"));
    let o = run(&["audit", "verify"]);
    assert!(o.status.success());
    // Seven calendar years (2020–2026) loaded at first start, two organisations, a user,
    // a key.
    assert!(stdout(&o).contains("11 events verified"), "{}", stdout(&o));

    // Tamper: edit event 2, then verify names it and fails.
    scratch.sql("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2");
    let o = run(&["audit", "verify"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("event 2: content does not match"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn deleting_or_reordering_audit_rows_is_named() {
    let scratch = Scratch::new();
    let run = |args: &[&str]| scratch.run(args);
    assert!(run(&["demo"]).status.success());
    let exec = |sql: &str| scratch.sql(sql);
    // Swap two rows' positions (reorder): move 7 aside, 8 into 7, 7 into 8.
    exec("UPDATE audit_events SET seq = -7 WHERE seq = 7");
    exec("UPDATE audit_events SET seq = 7 WHERE seq = 8");
    exec("UPDATE audit_events SET seq = 8 WHERE seq = -7");
    let o = run(&["audit", "verify"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("event 7: does not link"),
        "{}",
        stdout(&o)
    );
    // Put them back, then delete one in the middle.
    exec("UPDATE audit_events SET seq = -7 WHERE seq = 8");
    exec("UPDATE audit_events SET seq = 8 WHERE seq = 7");
    exec("UPDATE audit_events SET seq = 7 WHERE seq = -7");
    assert!(run(&["audit", "verify"]).status.success());
    exec("DELETE FROM audit_events WHERE seq = 12");
    let o = run(&["audit", "verify"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("event 13: does not link"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("expected event 12"), "{}", stdout(&o));
}

#[test]
fn the_demo_s_requests_train_the_suggestion_by_command() {
    let s = Scratch::new();
    assert!(s.run(&["demo"]).status.success());
    // The demo trains once on its 37 requests; retraining reads the same history.
    let out = s.run(&["train-suggestions"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.starts_with("model 2 trained on "), "{text}");
    let n: u64 = text
        .trim()
        .rsplit(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n >= 30, "the demo's categorised requests: {text}");
}
