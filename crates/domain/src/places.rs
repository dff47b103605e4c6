//! The three places of a case, the channel it came by, and entry after an outage (补录).
//!
//! Every case names three places (通收通办):
//!
//! 1. **where it was taken in** — an organisation and the kind of place it is there
//!    ([`PlaceKind`]: a hall such as a street's 便民服务中心, a 社区服务站, or a 代办点);
//! 2. **who decides** — the department responsible for the item (the case's department);
//! 3. **where the result is handed out** ([`Handout`]) — picked up at any hall or station
//!    the applicant chooses, sent by mail to an address, or issued as an electronic
//!    certificate. The place that hands it out (the chosen station for a pick-up, the
//!    intake place for mail and electronic certificates) is where it is issued from.
//!
//! A place sees the cases taken in there, the cases handed out there, and a department
//! the cases it decides; only the handing-out place issues ([`check_issue`]).
//!
//! The channel ([`Channel`]) says how the application reached the product: at a window, at
//! a community station, on a home visit (上门, a clerk with a tablet), by phone booking, at a
//! self-service terminal, or online (recorded through the API until the online registry
//! comes).
//!
//! 补录: when the system was down, the window took applications on paper; entered later,
//! such a case keeps its original acceptance time ([`check_backfill`]): never in the
//! future, at most [`BACKFILL_MAX_DAYS`] days back, with a reason. Its deadline counts from
//! the original acceptance date, through the working-day calendar like any other.

use crate::cases::{CaseAction, IssueMethod};
use crate::org::OrgKind;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// What kind of place took an application in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// A service hall: a street's 便民服务中心, or a district's or city's 政务服务中心.
    Hall,
    /// A community's service station (社区服务站).
    CommunityStation,
    /// An agency point (代办点): a 代办员 taking applications in on the applicant's behalf,
    /// in a village, an estate or a company park.
    AgencyPoint,
}

impl PlaceKind {
    pub const ALL: [PlaceKind; 3] = [
        PlaceKind::Hall,
        PlaceKind::CommunityStation,
        PlaceKind::AgencyPoint,
    ];

    /// The stable spelling stored and sent by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Hall => "hall",
            PlaceKind::CommunityStation => "community_station",
            PlaceKind::AgencyPoint => "agency_point",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            PlaceKind::Hall => "便民服务中心",
            PlaceKind::CommunityStation => "社区服务站",
            PlaceKind::AgencyPoint => "代办点",
        }
    }

    /// The kind of place an organisation is when nothing else is said: a community is a
    /// station, a grid an agency point, every other level a hall.
    pub fn default_for(org: OrgKind) -> PlaceKind {
        match org {
            OrgKind::Community => PlaceKind::CommunityStation,
            OrgKind::Grid => PlaceKind::AgencyPoint,
            _ => PlaceKind::Hall,
        }
    }

    /// Whether an organisation of kind `org` can be this kind of place: a station only at a
    /// community, a hall only above it, an agency point anywhere.
    pub fn possible_at(self, org: OrgKind) -> bool {
        match self {
            PlaceKind::Hall => !matches!(org, OrgKind::Community | OrgKind::Grid),
            PlaceKind::CommunityStation => org == OrgKind::Community,
            PlaceKind::AgencyPoint => true,
        }
    }
}

/// How an application reached the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// At a hall's window (窗口受理).
    Window,
    /// At a community service station.
    CommunityStation,
    /// On a home visit (上门服务): a clerk with a tablet at the applicant's home.
    HomeVisit,
    /// Booked by phone, taken in by a clerk.
    PhoneBooking,
    /// At a self-service terminal (自助终端).
    SelfService,
    /// Online (网上申请): through the API only, until the online registry comes.
    Online,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Window,
        Channel::CommunityStation,
        Channel::HomeVisit,
        Channel::PhoneBooking,
        Channel::SelfService,
        Channel::Online,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Window => "window",
            Channel::CommunityStation => "community_station",
            Channel::HomeVisit => "home_visit",
            Channel::PhoneBooking => "phone_booking",
            Channel::SelfService => "self_service",
            Channel::Online => "online",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Window => "窗口受理",
            Channel::CommunityStation => "社区服务站受理",
            Channel::HomeVisit => "上门服务",
            Channel::PhoneBooking => "电话预约",
            Channel::SelfService => "自助终端",
            Channel::Online => "网上申请",
        }
    }

    /// Whether the intake form offers it: online applications arrive through the API.
    pub fn on_intake_form(self) -> bool {
        self != Channel::Online
    }

    /// The channel of an intake at a place when the clerk says nothing.
    pub fn default_for(place: PlaceKind) -> Channel {
        match place {
            PlaceKind::CommunityStation => Channel::CommunityStation,
            PlaceKind::Hall | PlaceKind::AgencyPoint => Channel::Window,
        }
    }

    /// Whether this channel can bring an application in at a place of this kind: a
    /// station's own counter is the station channel, a hall's the window.
    pub fn possible_at(self, place: PlaceKind) -> bool {
        match self {
            Channel::Window => place != PlaceKind::CommunityStation,
            Channel::CommunityStation => place == PlaceKind::CommunityStation,
            _ => true,
        }
    }
}

/// The longest mail address taken (province to room number, with the recipient's name).
pub const ADDRESS_MAX_CHARS: usize = 200;

/// Where and how the result reaches the applicant, as chosen at intake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handout {
    pub method: IssueMethod,
    /// The place that hands the result out: the chosen hall or station for a pick-up,
    /// the intake place for mail and electronic certificates.
    pub org_id: i64,
    /// The mail address, for [`IssueMethod::Mail`] only.
    pub address: Option<String>,
}

/// What the clerk chose at intake, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HandoutChoice {
    /// `window` (the default), `mail` or `electronic`.
    #[serde(default)]
    pub method: Option<IssueMethod>,
    /// For a pick-up: the hall or station (organisation id); the intake place if absent.
    #[serde(default)]
    pub place_org_id: Option<i64>,
    /// For mail: where to send it.
    #[serde(default)]
    pub address: Option<String>,
}

/// Why a place, channel, handout or 补录 was refused. `field` names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlaceError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, code: &'static str, message: impl Into<String>) -> PlaceError {
    PlaceError {
        field,
        code,
        message: message.into(),
    }
}

/// The intake place's kind: the one asked for if the organisation can be that kind of
/// place, else the organisation's own kind of place.
pub fn intake_place(asked: Option<PlaceKind>, org: OrgKind) -> Result<PlaceKind, PlaceError> {
    let kind = asked.unwrap_or_else(|| PlaceKind::default_for(org));
    if !kind.possible_at(org) {
        return Err(refuse(
            "intake_place_kind",
            "place_kind_not_here",
            format!("{}不能作为{}受理", org.label(), kind.label()),
        ));
    }
    Ok(kind)
}

/// The channel of an intake at `place`: the one asked for, if it can be used there.
pub fn intake_channel(asked: Option<Channel>, place: PlaceKind) -> Result<Channel, PlaceError> {
    let channel = asked.unwrap_or_else(|| Channel::default_for(place));
    if !channel.possible_at(place) {
        return Err(refuse(
            "channel",
            "channel_not_here",
            format!("{}不能按“{}”渠道受理", place.label(), channel.label()),
        ));
    }
    Ok(channel)
}

/// Whether the place chosen for the hand-out sees a case: once it was accepted. A refused
/// application (and a notice retracted after it) concerns only the place that took it in
/// and never reaches the hand-out place, which has nothing to hand over.
pub fn handout_place_sees(accepted: bool) -> bool {
    accepted
}

/// Whether an organisation of kind `org` can hand results out: a hall or a station, not a
/// department's office or a grid.
pub fn hands_out(org: OrgKind) -> bool {
    matches!(
        org,
        OrgKind::City | OrgKind::District | OrgKind::Street | OrgKind::Community
    )
}

/// Checks the handout chosen at intake. `place` is the chosen pick-up place as
/// (id, kind, name), already looked up (None when none was chosen or it does not exist —
/// `choice.place_org_id` tells which); `intake_org` is the intake place.
pub fn check_handout(
    choice: &HandoutChoice,
    place: Option<(i64, OrgKind, &str)>,
    intake_org: i64,
) -> Result<Handout, PlaceError> {
    let method = choice.method.unwrap_or_default();
    let address = choice
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    match method {
        IssueMethod::Window => {
            if address.is_some() {
                return Err(refuse(
                    "handout_address",
                    "address_not_for_pickup",
                    "窗口领取不填写邮寄地址，只有邮寄才需要",
                ));
            }
            let org_id = match (choice.place_org_id, place) {
                (None, _) => intake_org,
                (Some(_), None) => {
                    return Err(refuse(
                        "handout_place",
                        "unknown_place",
                        "所选领取地点不存在",
                    ))
                }
                (Some(_), Some((id, kind, name))) => {
                    if !hands_out(kind) {
                        return Err(refuse(
                            "handout_place",
                            "not_a_handout_place",
                            format!("“{name}”不是办事大厅或社区服务站，不能领取办理结果"),
                        ));
                    }
                    id
                }
            };
            Ok(Handout {
                method,
                org_id,
                address: None,
            })
        }
        IssueMethod::Mail | IssueMethod::Electronic => {
            if choice.place_org_id.is_some() {
                return Err(refuse(
                    "handout_place",
                    "place_not_for_method",
                    format!("{}不选择领取地点，由受理地点寄出或发证", method.label()),
                ));
            }
            let address = match (method, address) {
                (IssueMethod::Mail, None) => {
                    return Err(refuse(
                        "handout_address",
                        "required",
                        "邮寄送达须填写邮寄地址（含收件人和电话）",
                    ))
                }
                (IssueMethod::Mail, Some(a)) if a.chars().count() > ADDRESS_MAX_CHARS => {
                    return Err(refuse(
                        "handout_address",
                        "too_long",
                        format!("邮寄地址最多{ADDRESS_MAX_CHARS}个字"),
                    ))
                }
                (IssueMethod::Mail, Some(a)) => Some(a.to_string()),
                (_, Some(_)) => {
                    return Err(refuse(
                        "handout_address",
                        "address_not_for_method",
                        "电子证照不填写邮寄地址，只有邮寄才需要",
                    ))
                }
                (_, None) => None,
            };
            Ok(Handout {
                method,
                org_id: intake_org,
                address,
            })
        }
    }
}

/// How an issuance may hand the result out, given the applicant's choice at intake. A
/// pick-up may still become mail or an electronic certificate when the applicant asks
/// (told the result is ready, they would rather not come); a result chosen to be mailed to
/// the address taken down at intake, or issued electronically, is issued that way.
pub fn check_issue(handout: IssueMethod, action: &CaseAction) -> Result<(), PlaceError> {
    match action {
        CaseAction::Issue { method, .. }
            if handout != IssueMethod::Window && *method != handout =>
        {
            Err(refuse(
                "method",
                "not_the_chosen_handout",
                format!(
                    "申请人受理时选择的是“{}”，不能按“{}”出件",
                    handout.label(),
                    method.label()
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// How far back a paper intake may be entered: an outage longer than this is not entered
/// case by case but handled by the supervising office.
pub const BACKFILL_MAX_DAYS: i64 = 30;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const BEIJING_OFFSET_MICROS: i64 = 8 * 3_600_000_000;

/// Reads a Beijing local time as typed or sent: `2026-11-20 10:30`, `2026-11-20T10:30`,
/// optionally with seconds.
pub fn parse_local_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// The UTC microseconds of a Beijing local time (UTC+8 all year).
pub fn beijing_micros(local: NaiveDateTime) -> i64 {
    local.and_utc().timestamp_micros() - BEIJING_OFFSET_MICROS
}

/// The Beijing date of UTC microseconds.
pub fn beijing_date(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros + BEIJING_OFFSET_MICROS)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// A 补录 as checked: the original acceptance time and why it is entered late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backfill {
    /// The original acceptance time, UTC microseconds.
    pub accepted_at: i64,
    /// Its Beijing date: the deadline counts from it.
    pub accepted_on: NaiveDate,
    pub reason: String,
}

/// The 补录 rule: the original acceptance time (Beijing, as typed) is not after `now`, at
/// most [`BACKFILL_MAX_DAYS`] days before it, and a reason is given (at most
/// `reason_max` characters). `now` is UTC microseconds.
pub fn check_backfill(
    accepted_at: &str,
    reason: &str,
    now: i64,
    reason_max: usize,
) -> Result<Backfill, PlaceError> {
    let field = "backfill_accepted_at";
    let local = parse_local_time(accepted_at).ok_or_else(|| {
        refuse(
            field,
            "invalid_time",
            "原受理时间格式应为 2026-11-20 10:30（北京时间）",
        )
    })?;
    let at = beijing_micros(local);
    if at > now {
        return Err(refuse(
            field,
            "in_future",
            "原受理时间不能晚于现在：补录的是已经在纸面受理的办件",
        ));
    }
    if now - at > BACKFILL_MAX_DAYS * MICROS_PER_DAY {
        return Err(refuse(
            field,
            "too_old",
            format!("只能补录{BACKFILL_MAX_DAYS}天以内受理的纸质办件，更早的请报主管部门处理"),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(refuse(
            "backfill_reason",
            "required",
            "补录须填写原因（例如：系统故障期间纸质受理）",
        ));
    }
    if reason.chars().count() > reason_max {
        return Err(refuse(
            "backfill_reason",
            "too_long",
            format!("补录原因最多{reason_max}个字"),
        ));
    }
    Ok(Backfill {
        accepted_at: at,
        accepted_on: local.date(),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        beijing_micros(parse_local_time(s).unwrap())
    }

    #[test]
    fn place_kinds_follow_the_tree() {
        assert_eq!(
            intake_place(None, OrgKind::Community),
            Ok(PlaceKind::CommunityStation)
        );
        assert_eq!(intake_place(None, OrgKind::Street), Ok(PlaceKind::Hall));
        assert_eq!(
            intake_place(Some(PlaceKind::AgencyPoint), OrgKind::Community),
            Ok(PlaceKind::AgencyPoint)
        );
        let e = intake_place(Some(PlaceKind::CommunityStation), OrgKind::Street).unwrap_err();
        assert_eq!(
            (e.field, e.code),
            ("intake_place_kind", "place_kind_not_here")
        );
        assert!(intake_place(Some(PlaceKind::Hall), OrgKind::Community).is_err());
        for k in PlaceKind::ALL {
            assert_eq!(PlaceKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn channels_fit_their_place() {
        assert_eq!(
            intake_channel(None, PlaceKind::CommunityStation),
            Ok(Channel::CommunityStation)
        );
        assert_eq!(intake_channel(None, PlaceKind::Hall), Ok(Channel::Window));
        assert_eq!(
            intake_channel(Some(Channel::HomeVisit), PlaceKind::CommunityStation),
            Ok(Channel::HomeVisit)
        );
        let e = intake_channel(Some(Channel::Window), PlaceKind::CommunityStation).unwrap_err();
        assert_eq!((e.field, e.code), ("channel", "channel_not_here"));
        assert!(intake_channel(Some(Channel::CommunityStation), PlaceKind::Hall).is_err());
        assert!(!Channel::Online.on_intake_form());
        assert!(Channel::ALL
            .iter()
            .filter(|c| **c != Channel::Online)
            .all(|c| c.on_intake_form()));
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn a_pickup_goes_to_the_chosen_hall_or_station() {
        let station = Some((7, OrgKind::Community, "阳光社区"));
        let chosen = HandoutChoice {
            place_org_id: Some(7),
            ..HandoutChoice::default()
        };
        assert_eq!(
            check_handout(&chosen, station, 3),
            Ok(Handout {
                method: IssueMethod::Window,
                org_id: 7,
                address: None
            })
        );
        // Nothing chosen: picked up where it was taken in.
        assert_eq!(
            check_handout(&HandoutChoice::default(), None, 3).map(|h| h.org_id),
            Ok(3)
        );
        let e = check_handout(&chosen, None, 3).unwrap_err();
        assert_eq!((e.field, e.code), ("handout_place", "unknown_place"));
        let dept = Some((9, OrgKind::Department, "区民政局"));
        let e = check_handout(&chosen, dept, 3).unwrap_err();
        assert_eq!(e.code, "not_a_handout_place");
        let with_address = HandoutChoice {
            address: Some("某路1号".into()),
            ..HandoutChoice::default()
        };
        assert_eq!(
            check_handout(&with_address, None, 3).unwrap_err().code,
            "address_not_for_pickup"
        );
    }

    #[test]
    fn mail_needs_an_address_and_electronic_none() {
        let mail = |address: Option<&str>| HandoutChoice {
            method: Some(IssueMethod::Mail),
            address: address.map(String::from),
            place_org_id: None,
        };
        let h = check_handout(&mail(Some(" 幸福路8号 张三 13800138000 ")), None, 3).unwrap();
        assert_eq!(h.address.as_deref(), Some("幸福路8号 张三 13800138000"));
        assert_eq!(h.org_id, 3, "mailed from the intake place");
        assert_eq!(
            check_handout(&mail(None), None, 3).unwrap_err().code,
            "required"
        );
        assert_eq!(
            check_handout(&mail(Some("  ")), None, 3).unwrap_err().code,
            "required"
        );
        let long = "路".repeat(ADDRESS_MAX_CHARS + 1);
        assert_eq!(
            check_handout(&mail(Some(&long)), None, 3).unwrap_err().code,
            "too_long"
        );
        let e_cert = HandoutChoice {
            method: Some(IssueMethod::Electronic),
            ..HandoutChoice::default()
        };
        assert_eq!(check_handout(&e_cert, None, 3).unwrap().address, None);
        let e_cert_at = HandoutChoice {
            place_org_id: Some(7),
            ..e_cert.clone()
        };
        assert_eq!(
            check_handout(&e_cert_at, Some((7, OrgKind::Community, "x")), 3)
                .unwrap_err()
                .code,
            "place_not_for_method"
        );
        let e_cert_addr = HandoutChoice {
            address: Some("x".into()),
            ..e_cert
        };
        assert_eq!(
            check_handout(&e_cert_addr, None, 3).unwrap_err().code,
            "address_not_for_method"
        );
    }

    #[test]
    fn issuance_follows_the_choice() {
        let issue = |method| CaseAction::Issue {
            method,
            tracking_no: None,
            certificate_no: None,
        };
        assert!(check_issue(IssueMethod::Mail, &issue(IssueMethod::Mail)).is_ok());
        let e = check_issue(IssueMethod::Mail, &issue(IssueMethod::Window)).unwrap_err();
        assert_eq!((e.field, e.code), ("method", "not_the_chosen_handout"));
        assert!(check_issue(IssueMethod::Electronic, &issue(IssueMethod::Mail)).is_err());
        // A pick-up may become mail or an electronic certificate on request.
        for m in IssueMethod::ALL {
            assert!(check_issue(IssueMethod::Window, &issue(m)).is_ok());
        }
        assert!(check_issue(IssueMethod::Mail, &CaseAction::Close).is_ok());
    }

    #[test]
    fn backfill_is_bounded_and_explained() {
        let now = at("2026-11-23 09:00");
        let b = check_backfill("2026-11-20 10:30", " 系统故障，纸质受理 ", now, 500).unwrap();
        assert_eq!(
            b.accepted_on,
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
        );
        assert_eq!(b.accepted_at, at("2026-11-20T10:30"));
        assert_eq!(b.reason, "系统故障，纸质受理");
        // Late in the evening Beijing time is the same Beijing day.
        let late = check_backfill("2026-11-20 23:30", "停电", now, 500).unwrap();
        assert_eq!(
            late.accepted_on,
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
        );
        assert_eq!(beijing_date(late.accepted_at), late.accepted_on);
        let code = |t: &str, r: &str| check_backfill(t, r, now, 500).unwrap_err();
        assert_eq!(code("2026-11-23 09:01", "停电").code, "in_future");
        assert_eq!(
            code("2026-11-23 09:01", "停电").field,
            "backfill_accepted_at"
        );
        assert!(check_backfill("2026-11-23 09:00", "停电", now, 500).is_ok());
        assert!(check_backfill("2026-10-24 09:00", "停电", now, 500).is_ok());
        assert_eq!(code("2026-10-24 08:59", "停电").code, "too_old");
        let e = code("2026-11-20 10:30", "  ");
        assert_eq!((e.field, e.code), ("backfill_reason", "required"));
        assert_eq!(code("2026-11-20 10:30", &"因".repeat(501)).code, "too_long");
        assert_eq!(code("20.11.2026", "停电").code, "invalid_time");
    }
}
