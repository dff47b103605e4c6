//! The escalation engine, the staff inbox and the outbox, on SQLite and PostgreSQL. No loop
//! uses the engine yet, so the tests register a kind of their own and track items through
//! the store API, then move the manual clock and run the job (by hand and through the API).

mod common;

use common::{Db, TestApp};
use onewindow_domain::access::Role;
use onewindow_domain::escalation::{
    local_midnight, DeadlineRule, KindSpec, Light, StageSpec, Tier, MICROS_PER_HOUR,
};
use onewindow_store::audit::{Change, Who};
use onewindow_store::escalation::{self, NewTracked, TrackedItem};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    working_day_item_goes_yellow_red_and_escalates_once,
    notices_reach_only_their_people,
    hour_rules_and_closing,
    outbox_records_messages,
);

/// A kind as a loop would describe it: 5 working days to handle, 1 hour to respond; the
/// owning department's handlers, then the supervisor of its parent, then the one above.
fn test_kind() -> KindSpec {
    KindSpec {
        kind: "test.loop".into(),
        label: "测试闭环".into(),
        stages: vec![
            StageSpec {
                name: "handle".into(),
                label: "办理".into(),
                rule: DeadlineRule::WorkingDays(5),
                notice: None,
            },
            StageSpec {
                name: "respond".into(),
                label: "响应".into(),
                rule: DeadlineRule::Hours(1),
                notice: None,
            },
        ],
        tiers: vec![
            Tier {
                role: Role::DeptHandler,
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 1,
            },
            Tier {
                role: Role::Supervisor,
                up: 2,
            },
        ],
        // The installation's setting (default 200‰ = 20%).
        warn_permille: None,
    }
}

fn change(app: &TestApp) -> Change {
    Change {
        backend: app.store.backend(),
        at: app.clock_now(),
        who: Who::system("test"),
    }
}

/// Beijing wall time as UTC micros.
fn bj(y: i32, m: u32, d: u32, h: u32) -> i64 {
    local_midnight(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
        + i64::from(h) * MICROS_PER_HOUR
}

async fn track(app: &TestApp, subject: &str, owner_code: &str, stage: &str) -> TrackedItem {
    let owner = app.org_id(owner_code).await;
    let cal = app.state.calendar().await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    escalation::register_kind(&mut tx, &change(app), &test_kind())
        .await
        .unwrap();
    let item = escalation::track(
        &mut tx,
        &change(app),
        &cal,
        &NewTracked {
            kind: "test.loop".into(),
            subject_ref: subject.into(),
            title: format!("测试事项{subject}"),
            link: format!("/test/{subject}"),
            owner_org_id: owner,
            stage: stage.into(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    item
}

async fn run(app: &TestApp) -> escalation::EscalationRun {
    onewindow_web::escalation::run_job(&app.state)
        .await
        .unwrap()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    use sqlx::Row;
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1")
        .bind(action)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("n")
}

async fn inbox(app: &TestApp, user: &str) -> Value {
    let api = app.login(user).await;
    let (s, body) = api.get("/api/v1/inbox").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

fn kinds(inbox: &Value) -> Vec<String> {
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn working_day_item_goes_yellow_red_and_escalates_once(app: TestApp) {
    // Monday 2026-09-28 10:00: 5 working days are 9-29, 9-30, (National Day off), 10-8,
    // 10-9 and the make-up Saturday 10-10; yellow at 00:00 of 10-10, red at 24:00 of 10-10.
    app.clock.set(bj(2026, 9, 28, 10));
    let item = track(&app, "R-1", "dept-cg", "handle").await;
    assert_eq!(item.due_at, Some(bj(2026, 10, 11, 0)));
    assert_eq!(item.warn_at, Some(bj(2026, 10, 10, 0)));
    assert_eq!(item.next_check_at, Some(bj(2026, 10, 10, 0)));
    assert_eq!(item.light(app.clock_now()), Some(Light::Green));

    app.clock.set(bj(2026, 10, 10, 0) - 1);
    assert!(run(&app).await.is_empty(), "nothing before the warning");

    app.clock.set(bj(2026, 10, 10, 0));
    let r = run(&app).await;
    assert_eq!(r.warned, vec![item.id]);
    assert!(run(&app).await.is_empty(), "warned once");
    let now = escalation::get(app.store.reader(), item.id).await.unwrap();
    assert_eq!(now.light(app.clock_now()), Some(Light::Yellow));
    assert_eq!(now.tier, 0);

    // The deadline passes: with two instances over one PostgreSQL running the job at the
    // same moment, the item is escalated once.
    app.clock.set(bj(2026, 10, 11, 0));
    let second = if app.backend == Db::Postgres {
        Some(common::spawn_app_on(&app.db_url, Db::Postgres, app.clock.clone(), None).await)
    } else {
        None
    };
    let mut escalated = 0;
    for _ in 0..3 {
        let (a, b) = match &second {
            Some(s) => tokio::join!(
                onewindow_web::escalation::run_job(&app.state),
                onewindow_web::escalation::run_job(&s.state)
            ),
            None => tokio::join!(
                onewindow_web::escalation::run_job(&app.state),
                onewindow_web::escalation::run_job(&app.state)
            ),
        };
        escalated += a.unwrap().escalated.len() + b.unwrap().escalated.len();
    }
    assert_eq!(escalated, 1);
    assert_eq!(audit_count(&app, "escalation.escalate").await, 1);
    assert_eq!(audit_count(&app, "escalation.warn").await, 1);
    let events = escalation::events(app.store.reader(), item.id)
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["tracked", "warned", "escalated"]);
    let now = escalation::get(app.store.reader(), item.id).await.unwrap();
    assert_eq!(now.tier, 1);
    assert_eq!(now.overdue_since, Some(bj(2026, 10, 11, 0)));
    assert_eq!(now.light(app.clock_now()), Some(Light::Red));
    // The stage clock restarted for tier 1: 5 working days from Sunday 10-11 → Friday 10-16.
    assert_eq!(now.due_at, Some(bj(2026, 10, 17, 0)));

    // The handlers were given the item and warned; the district's supervisor got the
    // escalation; the window clerk and the administrator got nothing.
    assert_eq!(
        kinds(&inbox(&app, "handler").await),
        ["warning", "assignment"]
    );
    let sup = inbox(&app, "supervisor").await;
    assert_eq!(kinds(&sup), ["escalation"]);
    assert_eq!(sup["items"][0]["link"], "/test/R-1");
    assert_eq!(sup["unread"], 1);
    assert_eq!(kinds(&inbox(&app, "clerk").await), Vec::<String>::new());
    assert_eq!(kinds(&inbox(&app, "admin").await), Vec::<String>::new());

    // Running the job by hand: the root's administrator only.
    let clerk = app.login("clerk").await;
    let (s, _) = clerk.post("/api/v1/jobs/escalation", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let admin = app.login("admin").await;
    let (s, body) = admin.post("/api/v1/jobs/escalation", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["escalated"], json!([]));

    // Tier 1 misses its deadline too: on to tier 2 (the city), then overdue at the top.
    app.clock.set(bj(2026, 10, 17, 0));
    assert_eq!(run(&app).await.escalated, vec![item.id]);
    let top = escalation::get(app.store.reader(), item.id).await.unwrap();
    assert_eq!(top.tier, 2);
    app.clock.set(top.due_at.unwrap());
    assert_eq!(run(&app).await.exhausted, vec![item.id]);
    app.clock.advance_secs(30 * 24 * 3600);
    assert!(run(&app).await.is_empty());
    if let Some(s) = second {
        s.stop().await;
    }
}

async fn notices_reach_only_their_people(app: TestApp) {
    let mine = track(&app, "N-1", "dept-cg", "handle").await;
    let other = track(&app, "N-2", "dept-mz", "handle").await;
    let handler = app.login("handler").await;
    let (_, body) = handler.get("/api/v1/inbox").await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["item_id"], mine.id);
    assert_eq!(items[0]["kind"], "assignment");
    assert_eq!(body["unread"], 1);

    // The page header shows the count; the inbox page lists the notice with its link.
    let html = handler
        .client
        .get(app.url("/inbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="unread-count""#), "{html}");
    assert!(html.contains("/test/N-1"));
    assert!(!html.contains("/test/N-2"));

    // Another department's notice: not visible, and marking it read is 404, changing nothing.
    use sqlx::Row;
    let other_notice: i64 = sqlx::query("SELECT id FROM notices WHERE item_id = $1")
        .bind(other.id)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let audit = app.audit_head().await;
    let (s, _) = handler
        .post(&format!("/api/v1/inbox/{other_notice}/read"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.audit_head().await, audit);

    // Mark read: once audited, a second time changes nothing.
    let id = items[0]["id"].as_i64().unwrap();
    let (s, n) = handler
        .post(&format!("/api/v1/inbox/{id}/read"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert!(n["read_at"].is_i64());
    assert_eq!(app.audit_head().await, audit + 1);
    let (s, _) = handler
        .post(&format!("/api/v1/inbox/{id}/read"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.audit_head().await, audit + 1);
    let (_, body) = handler.get("/api/v1/inbox?unread=true").await;
    assert_eq!(body["unread"], 0);
    assert_eq!(body["items"], json!([]));
    let (_, body) = handler.get("/api/v1/inbox").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (s, _) = handler.get("/api/v1/inbox?unread=maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Mark read from the page (CSRF form) works too.
    let third = track(&app, "N-3", "dept-cg", "handle").await;
    let (_, body) = handler.get("/api/v1/inbox?unread=true").await;
    let nid = body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(body["items"][0]["item_id"], third.id);
    let res = handler
        .client
        .post(app.url(&format!("/inbox/{nid}/read")))
        .form(&[("_csrf", handler.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, body) = handler.get("/api/v1/inbox").await;
    assert_eq!(body["unread"], 0);

    // A subject is tracked once.
    let cal = app.state.calendar().await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let again = escalation::track(
        &mut tx,
        &change(&app),
        &cal,
        &NewTracked {
            kind: "test.loop".into(),
            subject_ref: "N-1".into(),
            title: "重复".into(),
            link: "/test/N-1".into(),
            owner_org_id: app.org_id("dept-cg").await,
            stage: "handle".into(),
        },
    )
    .await;
    assert!(matches!(
        again,
        Err(onewindow_store::StoreError::Conflict {
            code: "already_tracked",
            ..
        })
    ));
    drop(tx);
    // Text limits: a title over 100 characters is refused.
    let mut tx = app.store.begin().await.unwrap();
    let long = escalation::track(
        &mut tx,
        &change(&app),
        &cal,
        &NewTracked {
            kind: "test.loop".into(),
            subject_ref: "N-9".into(),
            title: "长".repeat(101),
            link: "/test/N-9".into(),
            owner_org_id: app.org_id("dept-cg").await,
            stage: "handle".into(),
        },
    )
    .await;
    assert!(matches!(long, Err(onewindow_store::StoreError::Invalid(_))));
}

async fn hour_rules_and_closing(app: TestApp) {
    // 1 hour to respond: yellow at 48 minutes (20% left), red and escalated at 1 hour.
    let start = app.clock_now();
    let item = track(&app, "H-1", "dept-cg", "respond").await;
    assert_eq!(item.due_at, Some(start + MICROS_PER_HOUR));
    assert_eq!(item.warn_at, Some(start + 48 * 60_000_000));
    app.clock.advance_secs(48 * 60);
    assert_eq!(run(&app).await.warned, vec![item.id]);
    // Moving to the next stage restarts at tier 0 with that stage's rule.
    let cal = app.state.calendar().await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let moved = escalation::advance_stage(&mut tx, &change(&app), &cal, item.id, "handle")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(moved.stage, "handle");
    assert!(!moved.warned);
    app.clock.advance_secs(3600);
    assert!(run(&app).await.is_empty(), "the old hour no longer counts");
    // Closed: never looked at again.
    let mut tx = app.store.begin().await.unwrap();
    let closed = escalation::close(&mut tx, &change(&app), item.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.next_check_at, None);
    app.clock.advance_secs(60 * 24 * 3600);
    assert!(run(&app).await.is_empty());
    let events = escalation::events(app.store.reader(), item.id)
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["tracked", "warned", "advanced", "closed"]);
    // The warning share is the installation's setting: 500‰ warns at half the hour.
    let admin = app.login("admin").await;
    let (s, body) = admin
        .put(
            "/api/v1/settings/escalation.warn_permille",
            json!({"value": 500}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let start = app.clock_now();
    let half = track(&app, "H-2", "dept-cg", "respond").await;
    assert_eq!(half.warn_at, Some(start + 30 * 60_000_000));
}

async fn outbox_records_messages(app: TestApp) {
    let clerk = app.login("clerk").await;
    let (s, body) = clerk
        .post(
            "/api/v1/outbox",
            json!({"phone": "13800138000", "message": "您的差评已整改，请点击链接评价"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, list) = clerk.get("/api/v1/outbox").await;
    assert_eq!(s, StatusCode::OK);
    let m = &list["items"][0];
    assert_eq!(m["id"], body["id"]);
    assert_eq!(m["state"], "sent");
    assert_eq!(m["attempts"], 1);
    assert_eq!(m["sender"], "record");
    assert_eq!(m["phone"], "138****8000");
    // Bad input changes nothing; a role without case access is refused.
    let n = app.count("outbox_messages").await;
    let (s, _) = clerk
        .post("/api/v1/outbox", json!({"phone": "123", "message": "x"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = clerk
        .post(
            "/api/v1/outbox",
            json!({"phone": "13800138000", "message": "长".repeat(501)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let handler = app.login("handler").await;
    let (s, _) = handler
        .post(
            "/api/v1/outbox",
            json!({"phone": "13800138000", "message": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("outbox_messages").await, n);
    // A community's clerk, below the street, does not see the street's messages.
    let other = app.login("clerk-yangguang").await;
    let (_, list) = other.get("/api/v1/outbox").await;
    assert_eq!(list["items"], json!([]));
    // The outbox page.
    let html = clerk
        .client
        .get(app.url("/outbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("138****8000") && html.contains("已发送"),
        "{html}"
    );
}

/// A stand-in SMS gateway on a free port: answers 500 to the first `fail_first` requests,
/// 200 after, and keeps each request's signature header and body.
async fn gateway(
    fail_first: usize,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, len) = loop {
                let k = sock.read(&mut chunk).await.unwrap_or(0);
                if k == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..k]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (i + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let k = sock.read(&mut chunk).await.unwrap_or(0);
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..k]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
            let sig = head
                .lines()
                .find_map(|l| l.strip_prefix("x-onewindow-signature:"))
                .unwrap_or("")
                .trim()
                .to_string();
            log.lock().unwrap().push((sig, buf[head_end..].to_vec()));
            let status = if n < fail_first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            n += 1;
            let _ = sock
                .write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    (url, seen)
}

async fn webhook_sender_signs_retries_and_records_attempts(db: Db) {
    let (url, seen) = gateway(1).await;
    let app = common::spawn_app_with(db, |c| {
        c.sms_webhook = Some(onewindow_web::inbox::SmsWebhook {
            url: url.clone(),
            secret: "s3cret".into(),
        })
    })
    .await;
    let clerk = app.login("clerk").await;
    let (s, body) = clerk
        .post(
            "/api/v1/outbox",
            json!({"phone": "13800138000", "message": "请对本次服务进行评价"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    // The gateway refused the first attempt: still queued, retried a minute later.
    let (_, list) = clerk.get("/api/v1/outbox").await;
    assert_eq!(list["items"][0]["state"], "queued");
    assert_eq!(list["items"][0]["attempts"], 1);
    assert_eq!(list["items"][0]["sender"], "webhook");
    assert_eq!(
        onewindow_web::inbox::deliver_outbox(&app.state)
            .await
            .unwrap(),
        0,
        "not before the backoff"
    );
    app.clock.advance_secs(60);
    assert_eq!(
        onewindow_web::inbox::deliver_outbox(&app.state)
            .await
            .unwrap(),
        1
    );
    let (_, list) = clerk.get("/api/v1/outbox").await;
    assert_eq!(list["items"][0]["state"], "sent");
    assert_eq!(list["items"][0]["attempts"], 2);
    let attempts = onewindow_store::notices::attempts(app.store.reader(), id)
        .await
        .unwrap();
    assert_eq!(
        attempts.iter().map(|a| a.1).collect::<Vec<_>>(),
        [false, true]
    );
    // Each request was signed with the secret over its exact body.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (sig, body) in &seen {
        assert_eq!(sig, &onewindow_web::inbox::sign("s3cret", body));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["phone"], "13800138000");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_sender_sqlite() {
    webhook_sender_signs_retries_and_records_attempts(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_sender_postgres() {
    webhook_sender_signs_retries_and_records_attempts(Db::Postgres).await
}
