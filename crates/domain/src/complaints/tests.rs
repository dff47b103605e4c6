//! The request loop's rules: the order of acts, 退单, reopening up to the limit, limits by
//! urgency, the staff member's blind spot, distances and the rates.

use super::*;
use crate::escalation::DeadlineRule;

fn facts(state: State) -> Facts {
    Facts {
        state,
        lead: Some(7),
        reopens: 0,
    }
}

#[test]
fn the_loop_runs_in_order() {
    let l = Limits::beijing();
    let dispatch = Act::Dispatch {
        lead: 7,
        co: vec![8],
    };
    assert_eq!(
        next_state(&facts(State::Received), &dispatch, &l),
        Ok(State::Dispatched)
    );
    assert_eq!(
        next_state(&facts(State::Dispatched), &Act::Sign, &l),
        Ok(State::Signed)
    );
    let reply = Act::Reply {
        content: "已修复".into(),
    };
    assert_eq!(
        next_state(&facts(State::Signed), &reply, &l),
        Ok(State::Replied)
    );
    let callback = Act::Callback {
        satisfaction: Satisfaction::Basic,
        solved: true,
    };
    assert_eq!(
        next_state(&facts(State::Replied), &callback, &l),
        Ok(State::Closed)
    );
    // A callback before a reply, a reply without content: refused.
    assert_eq!(
        next_state(&facts(State::Signed), &callback, &l),
        Err(ActError::WrongState("已签收"))
    );
    let empty = Act::Reply {
        content: " \u{200B}".into(),
    };
    assert_eq!(
        next_state(&facts(State::Signed), &empty, &l),
        Err(ActError::NoContent)
    );
    let both = Act::Dispatch {
        lead: 7,
        co: vec![7],
    };
    assert_eq!(
        next_state(&facts(State::Received), &both, &l),
        Err(ActError::LeadIsCo)
    );
}

#[test]
fn a_return_is_reviewed_by_the_dispatcher() {
    let l = Limits::beijing();
    let ask = |r: &str| Act::AskReturn { reason: r.into() };
    assert_eq!(
        next_state(&facts(State::Signed), &ask(""), &l),
        Err(ActError::NoReason)
    );
    assert_eq!(
        next_state(&facts(State::Signed), &ask("不属本部门职责"), &l),
        Ok(State::ReturnAsked)
    );
    let f = facts(State::ReturnAsked);
    let refuse = Act::DecideReturn {
        accept: false,
        lead: None,
    };
    assert_eq!(
        next_state(&f, &refuse, &l),
        Ok(State::Dispatched),
        "back to the same department"
    );
    let same = Act::DecideReturn {
        accept: true,
        lead: Some(7),
    };
    assert_eq!(next_state(&f, &same, &l), Err(ActError::SameLead));
    let other = Act::DecideReturn {
        accept: true,
        lead: Some(9),
    };
    assert_eq!(next_state(&f, &other, &l), Ok(State::Dispatched));
}

#[test]
fn not_satisfied_reopens_up_to_the_limit_then_the_supervisor() {
    let l = Limits::beijing();
    let no = Act::Callback {
        satisfaction: Satisfaction::Dissatisfied,
        solved: false,
    };
    let mut f = facts(State::Replied);
    for reopens in 0..l.max_reopens {
        f.reopens = reopens;
        assert_eq!(next_state(&f, &no, &l), Ok(State::Reopened));
    }
    f.reopens = l.max_reopens;
    assert_eq!(next_state(&f, &no, &l), Ok(State::Supervised));
    let reply = Act::Reply {
        content: "再次处理".into(),
    };
    assert_eq!(
        next_state(&facts(State::Reopened), &reply, &l),
        Ok(State::Replied)
    );
}

#[test]
fn limits_by_urgency_and_the_preset() {
    let b = Limits::beijing();
    assert_eq!(b.dispatch_rule(Urgency::Emergency), DeadlineRule::Hours(1));
    assert_eq!(b.dispatch_rule(Urgency::Utilities), DeadlineRule::Hours(2));
    assert_eq!(b.dispatch_rule(Urgency::Ordinary), DeadlineRule::Hours(24));
    assert_eq!(
        b.feedback_rule(Urgency::Emergency, true),
        DeadlineRule::Hours(2)
    );
    assert_eq!(
        b.feedback_rule(Urgency::Ordinary, false),
        DeadlineRule::CalendarDays(7)
    );
    assert_eq!(
        b.feedback_rule(Urgency::Ordinary, true),
        DeadlineRule::CalendarDays(15)
    );
    let p = Limits::seed_preset();
    assert_eq!(
        p.feedback_rule(Urgency::Ordinary, true),
        DeadlineRule::WorkingDays(3)
    );
}

#[test]
fn a_complaint_about_staff_is_hidden_from_them() {
    assert!(!visible_to(Some(42), 42));
    assert!(visible_to(Some(42), 43));
    assert!(visible_to(None, 42));
}

#[test]
fn distances_on_the_earth() {
    // 0.001° of latitude is about 111 m anywhere.
    let d = distance_m((39.9, 116.4), (39.901, 116.4));
    assert!((d - 111.2).abs() < 0.5, "{d}");
    assert_eq!(distance_m((39.9, 116.4), (39.9, 116.4)), 0.0);
}

#[test]
fn the_rates_on_hand_counted_numbers() {
    let c = Counts {
        dispatched: 8,
        signed_on_time: 6,
        replied: 5,
        replied_on_time: 4,
        called_back: 4,
        solved: 3,
        satisfied: 2,
        returns_asked: 2,
        requests: 10,
        repeats: 2,
        closed: 4,
        told: 3,
    };
    assert_eq!(c.response_rate(), Rate::new(6, 8));
    assert_eq!(c.solution_rate().percent_text(), "75.0%");
    assert_eq!(c.satisfaction_rate().percent_text(), "50.0%");
    assert_eq!(c.on_time_rate().percent_text(), "80.0%");
    assert_eq!(c.repeat_rate().percent_text(), "20.0%");
    assert_eq!(c.feedback_rate().percent_text(), "37.5%");
    assert_eq!(c.return_rate().percent_text(), "25.0%");
}

#[test]
fn settings_make_the_limits_and_the_preset_tightens_ordinary_ones() {
    let s = LimitSettings {
        dispatch_hours: [1, 2, 24],
        feedback_hours: [2, 24],
        feedback_days: 7,
        feedback_complex_days: 15,
        max_reopens: 2,
        callback_days: 2,
        seed_preset: false,
    };
    assert_eq!(Limits::from_settings(&s), Limits::beijing());
    let preset = Limits::from_settings(&LimitSettings {
        seed_preset: true,
        ..s
    });
    assert_eq!(preset, Limits::seed_preset());
    assert_eq!(
        preset.feedback_rule(Urgency::Ordinary, false),
        DeadlineRule::WorkingDays(3)
    );
    // Emergencies keep their hours under the preset.
    assert_eq!(
        preset.feedback_rule(Urgency::Emergency, false),
        DeadlineRule::Hours(2)
    );
}

#[test]
fn the_engine_kinds_have_a_stage_per_urgency_and_valid_specs() {
    let l = Limits::beijing();
    let d = dispatch_kind(&l);
    let h = handle_kind(&l);
    assert!(d.validate().is_ok() && h.validate().is_ok());
    let rule = |k: &KindSpec, name: &str| k.stages.iter().find(|s| s.name == name).map(|s| s.rule);
    assert_eq!(
        rule(&d, &dispatch_stage(Urgency::Emergency)),
        Some(DeadlineRule::Hours(1))
    );
    assert_eq!(
        rule(&h, &feedback_stage(Urgency::Ordinary, true)),
        Some(DeadlineRule::CalendarDays(15))
    );
    // Complex matters only lengthen ordinary requests: an emergency stays at 2 hours.
    assert_eq!(
        feedback_stage(Urgency::Emergency, true),
        feedback_stage(Urgency::Emergency, false)
    );
    assert_eq!(d.tiers[0].role, Role::Dispatcher);
    assert_eq!(h.tiers[0].role, Role::DeptHandler);
}

#[test]
fn request_numbers_and_coordinates() {
    let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let no = request_number(d, 12);
    assert_eq!(no, "SQ20261123000012");
    assert!(is_request_number(&no.to_lowercase()));
    assert!(!is_request_number("SQ20261323000012"));
    assert!(!is_request_number("BB20261123000012"));
    assert!(valid_coordinates(39.9, 116.4));
    assert!(!valid_coordinates(91.0, 116.4));
    assert!(!valid_coordinates(f64::NAN, 0.0));
}

#[test]
fn the_ranking_score_weights_the_three_rates() {
    let c = Counts {
        dispatched: 10,
        signed_on_time: 9,
        called_back: 8,
        solved: 6,
        satisfied: 7,
        ..Counts::default()
    };
    // 90% × 10 + 75% × 45 + 87.5% × 45 = 9 + 33.75 + 39.375 = 82.125 → 821 tenths.
    assert_eq!(c.composite_tenths(), 821);
    assert_eq!(Counts::default().composite_tenths(), 0);
    let mut added = Counts::default();
    added.add(Metric::Solved, 2);
    added.add(Metric::Solved, 3);
    assert_eq!(added.solved, 5);
}
