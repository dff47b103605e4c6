//! Queue tickets, window calling, the live display stream and appointments, on SQLite and
//! PostgreSQL (and two instances over one PostgreSQL).

mod common;

use common::{spawn_app_on, Api, Db, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    tickets_are_numbered_per_class_and_day,
    priority_then_issue_order_and_the_window_actions,
    concurrent_windows_call_every_ticket_exactly_once,
    the_last_place_in_a_slot_is_booked_once,
    booking_follows_opening_hours_and_the_calendar,
    display_stream_receives_calls_live,
    guide_desk_and_kiosk_pages_issue_tickets,
    check_in_only_at_the_bookings_own_hall_and_scope,
    check_in_inside_its_window_in_the_appointment_lane,
    a_booking_is_made_on_the_day_the_resident_saw,
    cancelling_keeps_the_code_and_says_what_is_wrong,
    the_window_list_says_what_each_window_serves,
    kiosk_pages_return_to_the_start_and_carry_no_staff_links,
);

async fn hall(app: &TestApp) -> i64 {
    app.org_id("xingfu-hall").await
}

async fn window_ids(app: &TestApp) -> Vec<(i64, i64)> {
    use sqlx::Row;
    sqlx::query("SELECT id, number FROM service_windows ORDER BY number")
        .fetch_all(app.store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("number")))
        .collect()
}

async fn issue(api: &Api, hall: i64, class: &str, priority: Option<&str>) -> Value {
    let (s, t) = api
        .post(
            &format!("/api/v1/queue/halls/{hall}/tickets"),
            json!({"class": class, "priority": priority}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t
}

async fn tickets_are_numbered_per_class_and_day(app: TestApp) {
    let guide = app.login("guide").await;
    let h = hall(&app).await;
    let a1 = issue(&guide, h, "A", None).await;
    let a2 = issue(&guide, h, "A", None).await;
    let c1 = issue(&guide, h, "C", Some("elderly")).await;
    assert_eq!(
        (
            a1["number"].as_str(),
            a2["number"].as_str(),
            c1["number"].as_str()
        ),
        (Some("A001"), Some("A002"), Some("C001"))
    );
    assert_eq!(c1["priority"], true);
    assert_eq!(c1["priority_reason"], "elderly");
    let (s, body) = guide
        .post(
            &format!("/api/v1/queue/halls/{h}/tickets"),
            json!({"class": "Z"}),
        )
        .await;
    assert_eq!(
        (s, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("class_code"))
    );
    // The next day starts again at 001.
    app.clock.advance_secs(86400);
    let guide = app.login("guide").await;
    let next = issue(&guide, h, "A", None).await;
    assert_eq!(next["number"], "A001");
    // Every issue is in the audit chain.
    let admin = app.login("admin").await;
    let (_, events) = admin.get("/api/v1/audit?entity=ticket&limit=10").await;
    assert_eq!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "ticket.issue")
            .count(),
        4
    );
    // A grid worker may not issue tickets.
    let grid = app.login("grid").await;
    let (s, _) = grid
        .post(
            &format!("/api/v1/queue/halls/{h}/tickets"),
            json!({"class": "A"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn priority_then_issue_order_and_the_window_actions(app: TestApp) {
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let h = hall(&app).await;
    let windows = window_ids(&app).await;
    let (w1, w1_number) = windows[0]; // serves A only
    let first = issue(&guide, h, "A", None).await;
    app.clock.advance_secs(60);
    let second = issue(&guide, h, "A", None).await;
    app.clock.advance_secs(60);
    let elderly = issue(&guide, h, "A", Some("elderly")).await;
    // Calling a closed window is refused.
    let (s, body) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("window_not_open"))
    );
    let (s, _) = clerk
        .post(
            &format!("/api/v1/queue/windows/{w1}/state"),
            json!({"state": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // The priority lane goes first (issued 2 minutes later, boosted by 30), then FIFO.
    let (_, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["number"], elderly["number"]);
    assert_eq!(called["ticket"]["window_number"], w1_number);
    // A busy window cannot call again before finishing or skipping.
    let (s, body) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("window_busy"))
    );
    let t = called["ticket"]["id"].clone();
    let act = |action: Value| {
        let clerk = &clerk;
        let t = t.clone();
        async move {
            clerk
                .post(&format!("/api/v1/queue/tickets/{t}/actions"), action)
                .await
        }
    };
    let (_, r) = act(json!({"action": "recall"})).await;
    assert_eq!(r["recall_count"], 1);
    act(json!({"action": "start_service"})).await;
    // A number that is no case is refused, naming the field; nothing changes.
    let (s, refused) = act(json!({"action": "finish", "case_nos": ["YC20261123000001"]})).await;
    assert_eq!(
        (s, refused["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("case_nos"))
    );
    let (s, done) = act(json!({"action": "finish"})).await;
    assert_eq!((s, done["state"].as_str()), (StatusCode::OK, Some("done")));
    assert_eq!(done["case_nos"], json!([]));
    // Next: the first ordinary ticket; it does not show up.
    let (_, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["number"], first["number"]);
    let skipped = called["ticket"]["id"].clone();
    let (_, r) = clerk
        .post(
            &format!("/api/v1/queue/tickets/{skipped}/actions"),
            json!({"action": "no_show"}),
        )
        .await;
    assert_eq!(r["state"], "no_show");
    // Re-queued once, behind those already waiting; a second time is refused.
    let (_, r) = clerk
        .post(
            &format!("/api/v1/queue/tickets/{skipped}/actions"),
            json!({"action": "requeue"}),
        )
        .await;
    assert_eq!(r["state"], "waiting");
    let (_, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["number"], second["number"]);
    // Transfer the second ticket to class C (another window serves it).
    let sid = called["ticket"]["id"].clone();
    let (s, r) = clerk
        .post(
            &format!("/api/v1/queue/tickets/{sid}/actions"),
            json!({"action": "transfer", "to_class": "C"}),
        )
        .await;
    assert_eq!(
        (s, r["class_code"].as_str(), r["state"].as_str()),
        (StatusCode::OK, Some("C"), Some("waiting"))
    );
    let (_, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["id"], skipped);
    clerk
        .post(
            &format!("/api/v1/queue/tickets/{skipped}/actions"),
            json!({"action": "no_show"}),
        )
        .await;
    let (s, body) = clerk
        .post(
            &format!("/api/v1/queue/tickets/{skipped}/actions"),
            json!({"action": "requeue"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("requeue_limit"))
    );
    // The audit trail of the skipped ticket tells its whole story, in order.
    let admin = app.login("admin").await;
    let (_, events) = admin.get("/api/v1/audit?entity=ticket&limit=50").await;
    let story: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|e| e["entity_id"].as_str() == Some(skipped.to_string().as_str()))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        story,
        [
            "ticket.issue",
            "ticket.call",
            "ticket.no_show",
            "ticket.requeue",
            "ticket.call",
            "ticket.no_show"
        ]
    );
    let served: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|e| e["entity_id"].as_str() == Some(elderly["id"].to_string().as_str()))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        served,
        [
            "ticket.issue",
            "ticket.call",
            "ticket.recall",
            "ticket.start",
            "ticket.finish"
        ]
    );
    let (_, v) = admin.get("/api/v1/audit/verify").await;
    assert!(v.get("broken").is_none());
}

async fn concurrent_windows_call_every_ticket_exactly_once(app: TestApp) {
    call_everything_once(&app, &app, 4).await;
}

/// Opens every window, issues tickets, then lets all windows call at once through the
/// given instances until the queue is empty: each ticket is called by exactly one window.
async fn call_everything_once(app: &TestApp, other: &TestApp, rounds: usize) {
    let guide = app.login("guide").await;
    let h = hall(app).await;
    let mut issued = Vec::new();
    for i in 0..30 {
        let class = ["A", "C", "F"][i % 3];
        issued.push(
            issue(
                &guide,
                h,
                class,
                if i % 7 == 0 { Some("disabled") } else { None },
            )
            .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let windows = window_ids(app).await;
    let mut tasks = Vec::new();
    for (n, (wid, _)) in windows.into_iter().enumerate() {
        let target = if n % 2 == 0 { app } else { other };
        let mut clerk = app.login("clerk").await;
        clerk.base = target.base.clone();
        clerk
            .post(
                &format!("/api/v1/queue/windows/{wid}/state"),
                json!({"state": "open"}),
            )
            .await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..(rounds * 30) {
                let (s, r) = clerk
                    .post(&format!("/api/v1/queue/windows/{wid}/call-next"), json!({}))
                    .await;
                assert_eq!(s, StatusCode::OK, "{r}");
                let Some(id) = r["ticket"]["id"].as_i64() else {
                    break;
                };
                mine.push(id);
                let (s, f) = clerk
                    .post(
                        &format!("/api/v1/queue/tickets/{id}/actions"),
                        json!({"action": "start_service"}),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{f}");
                clerk
                    .post(
                        &format!("/api/v1/queue/tickets/{id}/actions"),
                        json!({"action": "finish"}),
                    )
                    .await;
            }
            mine
        }));
    }
    let mut called = Vec::new();
    for t in tasks {
        called.extend(t.await.unwrap());
    }
    called.sort_unstable();
    issued.sort_unstable();
    assert_eq!(
        called, issued,
        "every ticket called exactly once, none skipped"
    );
}

async fn the_last_place_in_a_slot_is_booked_once(app: TestApp) {
    let h = hall(&app).await;
    sqlx::query("UPDATE queue_classes SET slot_capacity = 1")
        .execute(app.store.reader())
        .await
        .unwrap();
    let c = app.browser();
    // Wednesday 25 November: a working day.
    let slots: Vec<Value> = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{h}/slots?class=A&date=2026-11-25"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = slots[0]["id"].as_i64().unwrap();
    assert_eq!(slots[0]["capacity"], 1);
    let people = [
        "11010519491231002X",
        "440524198001010013",
        "110105198001010016",
        "110105199001010010",
        "110105197001010011",
        "110105196001010017",
    ];
    let mut tasks = Vec::new();
    for (i, id) in people.iter().enumerate() {
        let (c, url) = (
            c.clone(),
            app.url(&format!("/api/v1/queue/halls/{h}/appointments")),
        );
        let body = json!({"slot_id": slot, "name": format!("居民{i}"), "id_number": id, "phone": format!("1380013800{i}")});
        tasks.push(tokio::spawn(async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            StatusCode::CREATED => ok += 1,
            StatusCode::CONFLICT => assert_eq!(body["code"], "slot_full"),
            StatusCode::UNPROCESSABLE_ENTITY => panic!("bad test data: {body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one booking takes the last place");
    use sqlx::Row;
    let booked: i64 = sqlx::query("SELECT booked FROM appointment_slots WHERE id = $1")
        .bind(slot)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("booked");
    assert_eq!(booked, 1);
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appointments")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 1);
}

async fn booking_follows_opening_hours_and_the_calendar(app: TestApp) {
    let h = hall(&app).await;
    let c = app.browser();
    let slots = |date: &'static str| {
        let c = c.clone();
        let url = app.url(&format!(
            "/api/v1/queue/halls/{h}/slots?class=A&date={date}"
        ));
        async move {
            c.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let weekday = slots("2026-11-25").await;
    let saturday = slots("2026-11-28").await;
    assert!(weekday.as_array().unwrap().len() > saturday.as_array().unwrap().len());
    assert!(
        !saturday.as_array().unwrap().is_empty(),
        "周末不打烊: Saturday sessions"
    );
    // National Day 2026 is a holiday: no slots; the past cannot be booked.
    let r = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{h}/slots?class=A&date=2026-11-20"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The administrator closes Saturdays and halves capacity: the slots follow.
    let admin = app.login("admin").await;
    let (_, mut hours) = admin.get(&format!("/api/v1/queue/halls/{h}/hours")).await;
    hours["weekend"] = json!([]);
    let (s, _) = admin
        .put(&format!("/api/v1/queue/halls/{h}/hours"), hours.clone())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        slots("2026-12-05").await.as_array().unwrap().is_empty(),
        "no Saturday sessions any more"
    );
    hours["slot_minutes"] = json!(1);
    let (s, body) = admin
        .put(&format!("/api/v1/queue/halls/{h}/hours"), hours)
        .await;
    assert_eq!(
        (s, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("slot_minutes"))
    );
    let (s, _) = admin
        .put(
            &format!("/api/v1/queue/halls/{h}/classes/B"),
            json!({"slot_capacity": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let b: Vec<Value> = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{h}/slots?class=B&date=2026-12-02"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b[0]["capacity"], 2);
    let clerk = app.login("clerk").await;
    let (s, _) = clerk
        .put(
            &format!("/api/v1/queue/halls/{h}/classes/B"),
            json!({"slot_capacity": 9}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Book, refuse a duplicate, cancel with the phone, book again.
    let slot = weekday[0]["id"].as_i64().unwrap();
    let book = |body: Value| {
        let c = c.clone();
        let url = app.url(&format!("/api/v1/queue/halls/{h}/appointments"));
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let me = json!({"slot_id": slot, "name": "王奶奶", "id_number": "11010519491231002X", "phone": "13800138000"});
    let (s, a) = book(me.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["id_masked"], "110105********002X");
    let (s, body) = book(me.clone()).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_booked"))
    );
    let code = a["code"].as_str().unwrap();
    let r = c
        .post(app.url(&format!("/api/v1/queue/appointments/{code}/cancel")))
        .json(&json!({"phone": "13900000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the wrong phone cannot cancel"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (
            body["fields"][0]["field"].as_str(),
            body["fields"][0]["code"].as_str()
        ),
        (Some("phone"), Some("phone_mismatch"))
    );
    let r = c
        .post(app.url(&format!("/api/v1/queue/appointments/{code}/cancel")))
        .json(&json!({"phone": "13800138000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Cancelling twice is told it is cancelled already.
    let r = c
        .post(app.url(&format!("/api/v1/queue/appointments/{code}/cancel")))
        .json(&json!({"phone": "13800138000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "already_cancelled"
    );
    let (s, a) = book(me.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let code = a["code"].as_str().unwrap().to_string();
    // Check-in only on the day; it gives a ticket in the 预约 lane (not 爱心通道).
    let guide = app.login("guide").await;
    let (s, body) = guide
        .post(
            &format!("/api/v1/queue/appointments/{code}/check-in"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("wrong_day"))
    );
    app.clock.advance_secs(2 * 86400);
    let guide = app.login("guide").await;
    let (s, t) = guide
        .post(
            &format!("/api/v1/queue/appointments/{code}/check-in"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(
        (
            t["lane"].as_str(),
            t["priority"].as_bool(),
            t["priority_reason"].as_str()
        ),
        (Some("appointment"), Some(false), None)
    );
    // Three no-shows block online booking (the limit is a setting, default 3).
    for (i, day) in ["2026-11-26", "2026-11-27", "2026-11-30"]
        .iter()
        .enumerate()
    {
        let s: Vec<Value> = c
            .get(app.url(&format!("/api/v1/queue/halls/{h}/slots?class=B&date={day}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (st, body) = book(json!({"slot_id": s[i]["id"], "name": "李四", "id_number": "440524198001010013", "phone": "13900139000"})).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
    app.clock.advance_secs(10 * 86400);
    let admin = app.login("admin").await;
    admin.post("/api/v1/jobs/deadlines", json!({})).await;
    let s: Vec<Value> = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{h}/slots?class=B&date=2026-12-09"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (st, body) = book(json!({"slot_id": s[0]["id"], "name": "李四", "id_number": "440524198001010013", "phone": "13900139000"})).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_show_limit")),
        "{body}"
    );
}

/// Reads server-sent events until one of `kind` arrives, with a deadline.
async fn next_event(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    kind: &str,
    within: Duration,
) -> Value {
    use futures_util::StreamExt;
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event within {within:?}"));
        buf.push_str(std::str::from_utf8(&chunk.unwrap().unwrap()).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let event = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("");
            if event == kind {
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap();
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

async fn display_stream_receives_calls_live(app: TestApp) {
    stream_across(&app, &app).await;
}

/// Connects a display to `screen`, makes a call through `caller`: the call arrives live.
async fn stream_across(caller: &TestApp, screen: &TestApp) {
    let h = hall(caller).await;
    let sse = reqwest::Client::new()
        .get(screen.url(&format!("/halls/{h}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let mut stream = sse.bytes_stream();
    let guide = caller.login("guide").await;
    let clerk = caller.login("clerk").await;
    let t = issue(&guide, h, "A", None).await;
    let issued = next_event(&mut stream, "issued", Duration::from_secs(5)).await;
    assert_eq!(issued["ticket"], t["number"]);
    assert_eq!(issued["waiting"]["A"], 1);
    let (w1, _) = window_ids(caller).await[0];
    clerk
        .post(
            &format!("/api/v1/queue/windows/{w1}/state"),
            json!({"state": "open"}),
        )
        .await;
    let started = tokio::time::Instant::now();
    clerk
        .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
        .await;
    let called = next_event(&mut stream, "called", Duration::from_secs(1)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(called["ticket"], t["number"]);
    assert_eq!(
        called["text"],
        format!("请{}号到1号窗口办理", t["number"].as_str().unwrap())
    );
    assert_eq!(called["waiting"]["A"], 0);
    // A screen that reconnects with Last-Event-ID gets what it missed.
    let (_, snap) = guide
        .get(&format!("/api/v1/queue/halls/{h}/snapshot"))
        .await;
    assert_eq!(snap["windows"][0]["ticket"], t["number"]);
    let last = snap["last_event_id"].as_i64().unwrap();
    issue(&guide, h, "B", None).await;
    let again = reqwest::Client::new()
        .get(screen.url(&format!("/halls/{h}/events")))
        .header("last-event-id", (last).to_string())
        .send()
        .await
        .unwrap();
    let mut again = again.bytes_stream();
    let missed = next_event(&mut again, "issued", Duration::from_secs(5)).await;
    assert_eq!(missed["class"], "B");
    assert_eq!(
        missed["replayed"], true,
        "caught-up events are marked (not read aloud)"
    );
    assert!(called.get("replayed").is_none(), "live ones are not");
    // A gap longer than a replay: the screen is told to reload instead of replaying it.
    for _ in 0..onewindow_store::queue::REPLAY_LIMIT {
        issue(&guide, h, "C", None).await;
    }
    let far_behind = reqwest::Client::new()
        .get(screen.url(&format!("/halls/{h}/events")))
        .header("last-event-id", (last).to_string())
        .send()
        .await
        .unwrap();
    let mut far_behind = far_behind.bytes_stream();
    next_event(&mut far_behind, "reload", Duration::from_secs(5)).await;
}

async fn guide_desk_and_kiosk_pages_issue_tickets(app: TestApp) {
    let h = hall(&app).await;
    let c = app.browser();
    let page = c
        .get(app.url(&format!("/halls/{h}/kiosk")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("自助取号") && page.contains("class=\"large-text\""),
        "the kiosk is always in large text"
    );
    let i = page.find("name=\"_csrf\" value=\"").unwrap() + 20;
    let csrf = page[i..i + 64].to_string();
    let r = c
        .post(app.url(&format!("/halls/{h}/kiosk")))
        .form(&[("_csrf", csrf.as_str()), ("class", "D"), ("priority", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let slip = c
        .get(app.url(r.headers()["location"].to_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(slip.contains("D001") && slip.contains("爱心通道") && slip.contains("您前面还有"));
    let (s, display) = (
        StatusCode::OK,
        c.get(app.url(&format!("/halls/{h}/display")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(s, StatusCode::OK);
    assert!(display.contains("等候人数") && display.contains("/static/display.js"));
    let (_, stats) = app
        .login("guide")
        .await
        .get(&format!("/api/v1/queue/halls/{h}/stats"))
        .await;
    let d = stats["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "D")
        .unwrap();
    assert_eq!(d["waiting"], 1);
    assert!(
        d["avg_handling_secs"].as_f64().unwrap() > 0.0,
        "the demo history gives handling times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_call_every_ticket_exactly_once() {
    let first = common::spawn_app(Db::Postgres).await;
    let second = spawn_app_on(&first.db_url, Db::Postgres, first.clock.clone(), None).await;
    call_everything_once(&first, &second, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_through_one_instance_reaches_a_screen_on_the_other() {
    let first = common::spawn_app(Db::Postgres).await;
    let second = spawn_app_on(&first.db_url, Db::Postgres, first.clock.clone(), None).await;
    stream_across(&first, &second).await;
}

/// The CSRF token of a page's first form.
fn csrf_of(page: &str) -> String {
    let i = page.find("name=\"_csrf\" value=\"").expect("a form") + 20;
    page[i..i + 64].to_string()
}

async fn page(c: &reqwest::Client, url: String) -> (StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post_form(
    c: &reqwest::Client,
    url: String,
    form: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let r = c.post(url).form(form).send().await.unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (r.status(), location, r.text().await.unwrap())
}

/// A second hall under the same street (so the guide's scope holds both), with one class
/// and one window.
async fn second_hall(app: &TestApp) -> i64 {
    let admin = app.login("admin").await;
    let (s, org) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": app.org_id("xingfu").await, "kind": "department", "name": "幸福街道第二服务点", "code": "xingfu-hall-2"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    let id = org["id"].as_i64().unwrap();
    sqlx::query("INSERT INTO queue_classes (hall_id, code, name, slot_capacity) VALUES ($1, 'A', '社会保险', 4)")
        .bind(id)
        .execute(app.store.reader())
        .await
        .unwrap();
    sqlx::query("INSERT INTO service_windows (hall_id, number, name, classes, state, updated_at) VALUES ($1, 1, '综合窗口', '[\"A\"]', 'closed', 0)")
        .bind(id)
        .execute(app.store.reader())
        .await
        .unwrap();
    id
}

/// Books the first slot of class A on `date` at `hall` through the API; the booking code.
async fn book_first(app: &TestApp, hall: i64, date: &str, id_number: &str, phone: &str) -> String {
    book_at(app, hall, date, None, id_number, phone).await
}

/// Books the slot of class A starting at `start` (the first when `None`).
async fn book_at(
    app: &TestApp,
    hall: i64,
    date: &str,
    start: Option<&str>,
    id_number: &str,
    phone: &str,
) -> String {
    let c = app.browser();
    let slots: Vec<Value> = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{hall}/slots?class=A&date={date}"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = c
        .post(app.url(&format!("/api/v1/queue/halls/{hall}/appointments")))
        .json(&json!({"slot_id": slots.iter().find(|s| start.is_none_or(|t| s["start_time"] == t)).unwrap()["id"], "name": "王奶奶", "id_number": id_number, "phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn appointment_state(app: &TestApp, code: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT state FROM appointments WHERE code = $1")
        .bind(code)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("state")
}

async fn check_in_only_at_the_bookings_own_hall_and_scope(app: TestApp) {
    let a = hall(&app).await;
    let b = second_hall(&app).await;
    // Today (Monday 09:00): the 09:30 slot at hall B, inside its check-in window.
    let code = book_first(&app, b, "2026-11-23", "11010519491231002X", "13800138000").await;
    let tickets_before = app.count("tickets").await;

    // The kiosk of hall A refuses it, naming the hall, on the kiosk page (no 404 later).
    let c = app.browser();
    let (_, kiosk) = page(&c, app.url(&format!("/halls/{a}/kiosk"))).await;
    let (s, _, body) = post_form(
        &c,
        app.url(&format!("/halls/{a}/kiosk")),
        &[("_csrf", &csrf_of(&kiosk)), ("appointment", &code)],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("不能在本大厅签到") && body.contains("幸福街道第二服务点"),
        "{body}"
    );
    // The guide desk of hall A too (the guide's scope holds both halls).
    let guide = app.login("guide").await;
    let (s, _, body) = post_form(
        &guide.client,
        app.url("/desk"),
        &[
            ("_csrf", &guide.csrf),
            ("hall_id", &a.to_string()),
            ("appointment", &code),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("不能在本大厅签到"), "{body}");
    // The API, at hall A.
    let (s, body) = guide
        .post(
            &format!("/api/v1/queue/appointments/{code}/check-in?hall={a}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("wrong_hall"))
    );
    // A community clerk (the halls are outside their scope) cannot learn the code exists.
    let community = app.login("clerk-yangguang").await;
    let (s, _) = community
        .post(
            &format!("/api/v1/queue/appointments/{code}/check-in"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A grid worker has no role for it at all.
    let grid = app.login("grid").await;
    let (s, _) = grid
        .post(
            &format!("/api/v1/queue/appointments/{code}/check-in"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Nothing was issued or changed by the refusals.
    assert_eq!(app.count("tickets").await, tickets_before);
    assert_eq!(appointment_state(&app, &code).await, "booked");

    // At its own hall's kiosk it works, and the slip it redirects to is there.
    let (_, kiosk) = page(&c, app.url(&format!("/halls/{b}/kiosk"))).await;
    let (s, location, _) = post_form(
        &c,
        app.url(&format!("/halls/{b}/kiosk")),
        &[("_csrf", &csrf_of(&kiosk)), ("appointment", &code)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, slip) = page(&c, app.url(&location.unwrap())).await;
    assert_eq!(s, StatusCode::OK);
    assert!(slip.contains("A001") && slip.contains("预约"), "{slip}");
    assert!(
        !slip.contains("爱心通道"),
        "an appointment is not the 爱心通道"
    );
    assert_eq!(appointment_state(&app, &code).await, "checked_in");
    // Checked in twice: told so.
    let (s, body) = guide
        .post(
            &format!("/api/v1/queue/appointments/{code}/check-in?hall={b}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_checked_in"))
    );
}

async fn check_in_inside_its_window_in_the_appointment_lane(app: TestApp) {
    let h = hall(&app).await;
    // Monday's 14:00 slot.
    let at_two = Some("14:00");
    let early = book_at(
        &app,
        h,
        "2026-11-23",
        at_two,
        "11010519491231002X",
        "13800138000",
    )
    .await;
    let hours_early = book_at(
        &app,
        h,
        "2026-11-23",
        at_two,
        "440524198001010013",
        "13900139000",
    )
    .await;
    let late = book_at(
        &app,
        h,
        "2026-11-23",
        at_two,
        "110105198001010016",
        "13700137000",
    )
    .await;
    let guide = app.login("guide").await;
    let check_in = |code: String| {
        let guide = &guide;
        async move {
            guide
                .post(
                    &format!("/api/v1/queue/appointments/{code}/check-in?hall={h}"),
                    json!({}),
                )
                .await
        }
    };
    // 09:00: five hours early.
    let (s, body) = check_in(early.clone()).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_early"))
    );
    assert_eq!(
        body["title"],
        "您预约的是14:00，13:30起可以签到，请稍候再来"
    );
    // The window is a setting: widened, an early check-in is let in — and still gains
    // nothing in the call order.
    let admin = app.login("admin").await;
    let (s, _) = admin
        .put(
            "/api/v1/settings/queue.check_in_before_minutes",
            json!({"value": 300}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, first) = check_in(hours_early.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["lane"], "appointment");
    admin
        .put(
            "/api/v1/settings/queue.check_in_before_minutes",
            json!({"value": 30}),
        )
        .await;
    // 13:35: inside the window.
    app.clock.advance_secs((4 * 60 + 35) * 60);
    let guide = app.login("guide").await;
    let (s, second) = guide
        .post(
            &format!("/api/v1/queue/appointments/{early}/check-in?hall={h}"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    app.clock.advance_secs(60);
    let walk_in_before = issue(&guide, h, "A", None).await; // 13:36
    app.clock.advance_secs(19 * 60);
    let walk_in_after = issue(&guide, h, "A", None).await; // 13:55
                                                           // The appointments are called as if queued at 13:50 (10 minutes before the slot, a
                                                           // setting), whenever they checked in.
    let clerk = app.login("clerk").await;
    let (w1, _) = window_ids(&app).await[0];
    clerk
        .post(
            &format!("/api/v1/queue/windows/{w1}/state"),
            json!({"state": "open"}),
        )
        .await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let (_, r) = clerk
            .post(&format!("/api/v1/queue/windows/{w1}/call-next"), json!({}))
            .await;
        let id = r["ticket"]["id"].clone();
        order.push(id.clone());
        clerk
            .post(
                &format!("/api/v1/queue/tickets/{id}/actions"),
                json!({"action": "no_show"}),
            )
            .await;
    }
    assert_eq!(
        order,
        vec![
            walk_in_before["id"].clone(),
            first["id"].clone(),
            second["id"].clone(),
            walk_in_after["id"].clone()
        ]
    );
    // 14:16: a minute past the window (15 minutes after the start).
    app.clock.advance_secs(21 * 60);
    let guide = app.login("guide").await;
    let (s, body) = guide
        .post(
            &format!("/api/v1/queue/appointments/{late}/check-in?hall={h}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_late"))
    );
    assert!(
        body["title"].as_str().unwrap().contains("14:15前"),
        "{body}"
    );
    // The same refusal on the guide desk's page, in Chinese.
    let (s, _, page) = post_form(
        &guide.client,
        app.url("/desk"),
        &[
            ("_csrf", &guide.csrf),
            ("hall_id", &h.to_string()),
            ("appointment", &late),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("签到时间已过"), "{page}");
    assert_eq!(appointment_state(&app, &late).await, "booked");
    // Staff cannot issue an 预约 ticket without a booking.
    let (s, body) = guide
        .post(
            &format!("/api/v1/queue/halls/{h}/tickets"),
            json!({"class": "A", "priority": "appointment"}),
        )
        .await;
    assert_eq!(
        (s, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("priority"))
    );
}

async fn a_booking_is_made_on_the_day_the_resident_saw(app: TestApp) {
    let h = hall(&app).await;
    let c = app.browser();
    // Every date is a link that shows its slots: no script needed.
    let (s, today) = page(&c, app.url(&format!("/halls/{h}/book"))).await;
    assert_eq!(s, StatusCode::OK);
    let saturday_link = format!("href=\"/halls/{h}/book?class=A&amp;date=2026-11-28#slots\"");
    assert!(today.contains(&saturday_link), "{today}");
    assert!(today.contains("11月23日 星期一"), "the day shown, in words");
    let monday_slot = {
        let i = today.find("name=\"slot_id\" value=\"").unwrap() + 22;
        today[i..].split('"').next().unwrap().to_string()
    };
    let (s, saturday) = page(
        &c,
        app.url(&format!("/halls/{h}/book?class=A&date=2026-11-28")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        saturday.contains("id=\"slot-day\">11月28日 星期六<"),
        "{saturday}"
    );
    assert!(saturday.contains("name=\"date\" value=\"2026-11-28\""));
    let saturday_slot = {
        let i = saturday.find("name=\"slot_id\" value=\"").unwrap() + 22;
        saturday[i..].split('"').next().unwrap().to_string()
    };
    let csrf = csrf_of(&saturday);
    let me = |slot: &str, date: &str| {
        vec![
            ("_csrf".to_string(), csrf.clone()),
            ("class".to_string(), "A".to_string()),
            ("date".to_string(), date.to_string()),
            ("slot_id".to_string(), slot.to_string()),
            ("name".to_string(), "王奶奶".to_string()),
            ("id_number".to_string(), "11010519491231002X".to_string()),
            ("phone".to_string(), "13800138000".to_string()),
        ]
    };
    let post = |form: Vec<(String, String)>| {
        let c = c.clone();
        let url = app.url(&format!("/halls/{h}/book"));
        async move {
            let r = c.post(url).form(&form).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    // A slot of another day than the one shown: refused, nothing booked.
    let (s, body) = post(me(&monday_slot, "2026-11-28")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("不是您查看的11月28日 星期六"),
        "a clear field error: {body}"
    );
    assert_eq!(app.count("appointments").await, 0);
    // A form that does not say its day: refused too.
    let (s, body) = post(me(&saturday_slot, "")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("请先选择预约日期"), "{body}");
    // The day seen and the slot agree: booked, and the confirmation says when in words.
    let (s, body) = post(me(&saturday_slot, "2026-11-28")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body.contains("id=\"booked-when\">11月28日 星期六 09:00<"),
        "{body}"
    );
    use sqlx::Row;
    let day: String = sqlx::query("SELECT day FROM appointments")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("day");
    assert_eq!(day, "2026-11-28");
    // The API checks the day when it is given, and says when in words.
    let r = c
        .post(app.url(&format!("/api/v1/queue/halls/{h}/appointments")))
        .json(&json!({"slot_id": monday_slot.parse::<i64>().unwrap(), "date": "2026-11-28", "name": "李四", "id_number": "440524198001010013", "phone": "13900139000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (
            body["fields"][0]["field"].as_str(),
            body["fields"][0]["code"].as_str()
        ),
        (Some("date"), Some("slot_not_on_date"))
    );
    let r = c
        .post(app.url(&format!("/api/v1/queue/halls/{h}/appointments")))
        .json(&json!({"slot_id": saturday_slot.parse::<i64>().unwrap(), "date": "2026-11-28", "name": "李四", "id_number": "440524198001010013", "phone": "13900139000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.json::<Value>().await.unwrap()["when"],
        "11月28日 星期六 09:00"
    );
}

async fn cancelling_keeps_the_code_and_says_what_is_wrong(app: TestApp) {
    let h = hall(&app).await;
    let code = book_first(&app, h, "2026-11-25", "11010519491231002X", "13800138000").await;
    let c = app.browser();
    let (_, book) = page(&c, app.url(&format!("/halls/{h}/book"))).await;
    let csrf = csrf_of(&book);
    let cancel = |phone: &'static str| {
        let (c, csrf, code) = (c.clone(), csrf.clone(), code.clone());
        let url = app.url(&format!("/halls/{h}/book/cancel"));
        async move {
            let r = c
                .post(url)
                .form(&[("_csrf", csrf.as_str()), ("code", &code), ("phone", phone)])
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (s, body) = cancel("13900000000").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("手机号码与预约时登记的不一致"), "{body}");
    assert!(
        body.contains(&format!("name=\"code\" value=\"{code}\"")),
        "the code is kept"
    );
    assert!(!body.contains("该日没有可预约时段"), "{body}");
    assert_eq!(appointment_state(&app, &code).await, "booked");
    let (s, body) = cancel("13800138000").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.contains("已取消") && body.contains("11月25日 星期三 09:00"),
        "{body}"
    );
    // Twice: said in the site's layout, not a bare error page.
    let (s, body) = cancel("13800138000").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("该预约已经取消"), "{body}");
    assert!(body.contains("class=\"site-header"), "in the site layout");
    // An unknown code is named as such, on the page.
    let r = c
        .post(app.url(&format!("/halls/{h}/book/cancel")))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("code", "ZZZZZZZZ"),
            ("phone", "13800138000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("预约码不存在"));
}

async fn the_window_list_says_what_each_window_serves(app: TestApp) {
    let clerk = app.login("clerk").await;
    let (s, body) = page(&clerk.client, app.url("/counter")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.contains("A 社会保险与社保卡、F 综合受理"),
        "window 2's queues by name: {body}"
    );
    let (w2, _) = window_ids(&app).await[1];
    let (_, control) = page(&clerk.client, app.url(&format!("/counter/{w2}"))).await;
    assert!(control.contains("受理的号：A 社会保险与社保卡、F 综合受理"));
    // A community clerk has no windows: told why and what to do, not an empty page.
    let community = app.login("clerk-yangguang").await;
    let (s, body) = page(&community.client, app.url("/counter")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("阳光社区没有叫号窗口"), "{body}");
    assert!(
        body.contains("幸福街道便民服务中心"),
        "where the windows are"
    );
    assert!(body.contains("href=\"/window\""), "what to do instead");
    // And still no window of another scope.
    let (w1, _) = window_ids(&app).await[0];
    let (s, _) = page(&community.client, app.url(&format!("/counter/{w1}"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn kiosk_pages_return_to_the_start_and_carry_no_staff_links(app: TestApp) {
    let h = hall(&app).await;
    let c = app.browser();
    let (_, kiosk) = page(&c, app.url(&format!("/halls/{h}/kiosk"))).await;
    assert!(!kiosk.contains("/login"), "no staff login link on a kiosk");
    assert!(!kiosk.contains("http-equiv=\"refresh\""), "the start stays");
    let (s, location, _) = post_form(
        &c,
        app.url(&format!("/halls/{h}/kiosk")),
        &[("_csrf", &csrf_of(&kiosk)), ("class", "A")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(location.ends_with("?kiosk=1"), "{location}");
    let (_, slip) = page(&c, app.url(&location)).await;
    assert!(slip.contains("A001"));
    assert!(
        slip.contains(&format!(
            "http-equiv=\"refresh\" content=\"20;url=/halls/{h}/kiosk\""
        )),
        "back to the start after the setting's 20 seconds: {slip}"
    );
    assert!(!slip.contains("/login"));
    // An error also goes away by itself.
    let (s, _, body) = post_form(
        &c,
        app.url(&format!("/halls/{h}/kiosk")),
        &[("_csrf", &csrf_of(&kiosk)), ("appointment", "NOSUCHCODE")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("预约码不存在") && body.contains("http-equiv=\"refresh\""));
    // The desk's own slip link (no kiosk) does not jump away.
    let (s, desk_slip) = page(&c, app.url(location.trim_end_matches("?kiosk=1"))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(desk_slip.contains("A001") && !desk_slip.contains("http-equiv=\"refresh\""));
}
