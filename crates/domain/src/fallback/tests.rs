//! The fallback window's rules: the loop's order, ownership, rounds, extensions, the
//! intake test and refusal reports.

use super::*;

fn facts(state: State) -> CaseFacts {
    CaseFacts {
        state,
        tier: ResponseTier::Window,
        owner_user_id: Some(1),
        rounds_in_tier: 0,
        open_tasks: 0,
        extension: ExtensionState::None,
    }
}

fn officer(user_id: i64) -> Acting {
    Acting {
        user_id,
        officer: true,
        supervisor: false,
    }
}

#[test]
fn the_loop_runs_in_order_and_refuses_skips() {
    let l = Limits::default();
    let classify = Act::Classify {
        case_type: CaseType::Coordination,
        tags: vec![],
        tier: ResponseTier::Window,
    };
    assert_eq!(
        next_state(&facts(State::Received), &classify, &l),
        Ok(State::Coordinating)
    );
    let conclude = Act::Conclude {
        outcome: Outcome::Solved,
        conclusion: "已协调解决".into(),
        reason: String::new(),
    };
    assert_eq!(
        next_state(&facts(State::Handling), &conclude, &l),
        Ok(State::Concluded)
    );
    assert_eq!(
        next_state(&facts(State::Received), &conclude, &l),
        Err(ActError::WrongState("已受理"))
    );
    assert_eq!(
        next_state(&facts(State::Concluded), &Act::File, &l),
        Err(ActError::WrongState("已办结"))
    );
    assert_eq!(
        next_state(&facts(State::Verified), &Act::File, &l),
        Ok(State::Filed)
    );
    // Every final state refuses everything.
    for s in [State::Filed, State::Refused, State::Returned] {
        assert!(next_state(
            &facts(s),
            &Act::HandOver {
                to_user_id: 2,
                reason: "x".into()
            },
            &l
        )
        .is_err());
    }
}

#[test]
fn a_case_closes_whole_only() {
    let l = Limits::default();
    let mut f = facts(State::Coordinating);
    f.open_tasks = 2;
    let conclude = Act::Conclude {
        outcome: Outcome::PartlySolved,
        conclusion: "部分解决".into(),
        reason: String::new(),
    };
    assert_eq!(next_state(&f, &conclude, &l), Err(ActError::OpenTasks(2)));
    assert_eq!(
        next_state(
            &f,
            &Act::Coordinated {
                summary: "商定".into()
            },
            &l
        ),
        Err(ActError::OpenTasks(2))
    );
}

#[test]
fn unsolved_needs_a_reason() {
    let l = Limits::default();
    let act = Act::Conclude {
        outcome: Outcome::Unsolved,
        conclusion: "无法解决".into(),
        reason: " ".into(),
    };
    let err = next_state(&facts(State::Handling), &act, &l).unwrap_err();
    assert_eq!(err.field(), "reason");
}

#[test]
fn a_third_round_needs_the_next_tier() {
    let l = Limits::default();
    let mut f = facts(State::Coordinating);
    let round = Act::OpenRound {
        departments: vec![7, 8],
        request: "请研究".into(),
    };
    f.rounds_in_tier = 1;
    assert_eq!(next_state(&f, &round, &l), Ok(State::Coordinating));
    f.rounds_in_tier = 2;
    assert_eq!(
        next_state(&f, &round, &l),
        Err(ActError::TooManyRounds(2, "联席会议"))
    );
    f.tier = ResponseTier::LeadingGroup;
    assert_eq!(next_state(&f, &round, &l), Err(ActError::TopTier));
    assert_eq!(
        next_state(
            &f,
            &Act::RaiseTier {
                reason: "重大".into()
            },
            &l
        ),
        Err(ActError::TopTier)
    );
    f.rounds_in_tier = 0;
    let none = Act::OpenRound {
        departments: vec![],
        request: "请研究".into(),
    };
    assert_eq!(next_state(&f, &none, &l), Err(ActError::NoDepartments));
}

#[test]
fn one_extension_within_the_limit() {
    let l = Limits::default();
    let mut f = facts(State::Coordinating);
    let ask = |days| Act::AskExtension {
        days,
        reason: "涉及三个部门".into(),
    };
    assert_eq!(
        next_state(&f, &ask(5), &l),
        Err(ActError::ExtensionSimple),
        "a simple case is not extended"
    );
    f.tier = ResponseTier::JointMeeting;
    assert_eq!(
        next_state(&f, &ask(0), &l),
        Err(ActError::ExtensionDays(10))
    );
    assert_eq!(
        next_state(&f, &ask(11), &l),
        Err(ActError::ExtensionDays(10))
    );
    assert_eq!(next_state(&f, &ask(5), &l), Ok(State::Coordinating));
    let decide = Act::DecideExtension {
        approve: true,
        note: String::new(),
    };
    assert_eq!(next_state(&f, &decide, &l), Err(ActError::NoExtensionAsked));
    f.extension = ExtensionState::Asked;
    assert_eq!(next_state(&f, &decide, &l), Ok(State::Coordinating));
    for used in [
        ExtensionState::Asked,
        ExtensionState::Approved,
        ExtensionState::Refused,
    ] {
        f.extension = used;
        assert_eq!(next_state(&f, &ask(5), &l), Err(ActError::ExtensionUsed));
    }
}

#[test]
fn first_contact_owns_the_case() {
    let act = Act::Coordinated {
        summary: "x".into(),
    };
    let w = ResponseTier::Window;
    assert_eq!(may_act(&act, officer(1), Some(1), "赵专员", w), Ok(()));
    assert_eq!(
        may_act(&act, officer(2), Some(1), "赵专员", w),
        Err(NotYours::NotOwner("赵专员".into()))
    );
    // 核查 is never the owner's.
    let verify = Act::Verify {
        note: "属实".into(),
        satisfaction: None,
    };
    assert_eq!(
        may_act(&verify, officer(1), Some(1), "赵专员", w),
        Err(NotYours::OwnCase)
    );
    assert_eq!(may_act(&verify, officer(2), Some(1), "赵专员", w), Ok(()));
    // Anyone of the window may take an unowned case; a non-officer may not.
    let clerk = Acting {
        user_id: 3,
        officer: false,
        supervisor: false,
    };
    assert_eq!(may_act(&Act::Take, officer(2), None, "", w), Ok(()));
    assert_eq!(
        may_act(&Act::Take, clerk, None, "", w),
        Err(NotYours::NotOfficer)
    );
    // An extension is decided by a supervisor; the leading group needs one too.
    let decide = Act::DecideExtension {
        approve: true,
        note: String::new(),
    };
    assert_eq!(
        may_act(&decide, officer(1), Some(1), "赵专员", w),
        Err(NotYours::NotSupervisor)
    );
    let boss = Acting {
        user_id: 9,
        officer: false,
        supervisor: true,
    };
    assert_eq!(may_act(&decide, boss, Some(1), "赵专员", w), Ok(()));
    let raise = Act::RaiseTier {
        reason: "重大".into(),
    };
    assert_eq!(may_act(&raise, officer(1), Some(1), "赵专员", w), Ok(()));
    assert_eq!(
        may_act(
            &raise,
            officer(1),
            Some(1),
            "赵专员",
            ResponseTier::JointMeeting
        ),
        Err(NotYours::NotSupervisor)
    );
    assert_eq!(
        may_act(&raise, boss, Some(1), "赵专员", ResponseTier::JointMeeting),
        Ok(())
    );
    // A supervisor may hand over an absent officer's case, not work it.
    let hand = Act::HandOver {
        to_user_id: 2,
        reason: "休假".into(),
    };
    assert_eq!(may_act(&hand, boss, Some(1), "赵专员", w), Ok(()));
    assert_eq!(
        may_act(&act, boss, Some(1), "赵专员", w),
        Err(NotYours::NotOfficer)
    );
}

#[test]
fn the_three_conditions() {
    let ok = IntakeTest {
        tried_ordinary: true,
        tried_what: "申请加装电梯审批".into(),
        tried_where: "区住建局窗口".into(),
        linked_ref: String::new(),
        multi_department: true,
        policy_room: true,
    };
    assert_eq!(check_intake(CaseType::Coordination, &ok), Ok(()));
    let mut single = ok.clone();
    single.multi_department = false;
    assert_eq!(
        check_intake(CaseType::Coordination, &single),
        Err(vec![IntakeError::SingleDepartment])
    );
    assert_eq!(check_intake(CaseType::PolicySuggestion, &single), Ok(()));
    let untried = IntakeTest {
        tried_ordinary: true,
        ..IntakeTest::default()
    };
    assert_eq!(
        check_intake(CaseType::Coordination, &untried),
        Err(vec![
            IntakeError::NotTried,
            IntakeError::SingleDepartment,
            IntakeError::NoPolicyRoom
        ])
    );
}

#[test]
fn a_refusal_needs_its_report() {
    let refuse = |reasons: &str, basis: &str| TaskAnswer::Refuse {
        report: RefusalReport {
            reasons: reasons.into(),
            legal_basis: basis.into(),
        },
    };
    assert_eq!(
        answer_task(TaskState::Sent, &refuse("不属本部门职责", "")),
        Err(AnswerError::NoLegalBasis)
    );
    assert_eq!(
        answer_task(TaskState::Sent, &refuse("", "《条例》第5条")),
        Err(AnswerError::NoReasons)
    );
    assert_eq!(
        answer_task(TaskState::Sent, &refuse("不属本部门职责", "《条例》第5条")),
        Ok(TaskState::Refused)
    );
    let reply = TaskAnswer::Reply {
        reply: "已办理".into(),
    };
    assert_eq!(answer_task(TaskState::Sent, &reply), Ok(TaskState::Replied));
    assert_eq!(
        answer_task(TaskState::Replied, &reply),
        Err(AnswerError::AlreadyAnswered)
    );
}

#[test]
fn the_kind_is_valid_and_every_working_state_has_a_stage() {
    let kind = case_kind(Limits::default());
    assert_eq!(kind.validate(), Ok(()));
    for s in State::ALL {
        match s.stage() {
            Some(stage) => assert!(kind.stage(stage).is_some(), "{s:?}"),
            None => assert!(s.is_final()),
        }
        assert_eq!(State::parse(s.as_str()), Some(*s));
    }
}

#[test]
fn case_numbers() {
    let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let n = case_number(d, 7);
    assert_eq!(n, "BB20261123000007");
    assert!(is_case_number(&n));
    assert!(is_case_number(" bb20261123000007 "));
    assert!(!is_case_number("YC20261123000007"));
    assert!(!is_case_number("BB20261323000007"));
}

#[test]
fn each_tier_has_its_close_limit_never_below_the_window() {
    let l = Limits {
        close_days_joint_meeting: 10,
        close_days_leading_group: 3,
        ..Limits::default()
    };
    assert_eq!(l.close_days_for(ResponseTier::Window), 7);
    assert_eq!(l.close_days_for(ResponseTier::JointMeeting), 10);
    assert_eq!(l.close_days_for(ResponseTier::LeadingGroup), 7);
}

#[test]
fn blank_means_missing_even_with_invisible_characters() {
    let refuse = TaskAnswer::Refuse {
        report: RefusalReport {
            reasons: "不属本部门".into(),
            legal_basis: "\u{200B}\u{2060}".into(),
        },
    };
    assert_eq!(
        answer_task(TaskState::Sent, &refuse),
        Err(AnswerError::NoLegalBasis)
    );
    let err = next_state(
        &facts(State::Coordinating),
        &Act::Coordinated {
            summary: "\u{FEFF} ".into(),
        },
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "请填写协调结果",
        "the message names the field in Chinese"
    );
}

#[test]
fn the_person_rates_once_after_being_told() {
    assert!(may_rate(State::Concluded, false).is_err());
    assert_eq!(may_rate(State::FedBack, false), Ok(()));
    assert_eq!(may_rate(State::Filed, true), Err(ActError::AlreadyRated));
}

#[test]
fn oversized_lists_are_refused_before_use() {
    let round = Act::OpenRound {
        departments: vec![1; MAX_DEPARTMENTS + 1],
        request: "x".into(),
    };
    assert!(round.check_sizes().is_err());
    let tags = Act::Classify {
        case_type: CaseType::Coordination,
        tags: vec!["a".into(); MAX_TAGS + 1],
        tier: ResponseTier::Window,
    };
    assert!(tags.check_sizes().is_err());
}
