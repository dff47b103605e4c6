//! The audit chain: each event carries the hash of the one before, so an edited, deleted
//! or reordered row is found by recomputing the chain. Pure: hashing and checking only;
//! the store appends and streams rows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event as stored. `seq` is gapless (assigned under the chain-head lock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    /// UTC microseconds since the Unix epoch.
    pub at: i64,
    pub actor_user_id: Option<i64>,
    /// Who acted, as shown: a username, `system`, or `cli:<os user>`.
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// JSON: `{"before": …, "after": …}` or a diff; personal identifiers already masked.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of an event before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent<'a> {
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub detail: &'a str,
}

/// SHA-256 over the previous hash and a length-prefixed encoding of every field, so no
/// two different events share bytes (a `|` inside a field cannot shift a boundary).
pub fn event_hash(seq: i64, prev_hash: &str, e: &NewAuditEvent<'_>) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    h.update(e.actor_user_id.unwrap_or(-1).to_be_bytes());
    for field in [e.actor, e.action, e.entity, e.entity_id, e.detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

impl AuditEvent {
    fn as_new(&self) -> NewAuditEvent<'_> {
        NewAuditEvent {
            at: self.at,
            actor_user_id: self.actor_user_id,
            actor: &self.actor,
            action: &self.action,
            entity: &self.entity,
            entity_id: &self.entity_id,
            detail: &self.detail,
        }
    }
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainBreak {
    /// The row's content no longer matches its hash: edited.
    Altered { seq: i64 },
    /// The row does not follow the one before it: a row was deleted, inserted or reordered.
    Unlinked { seq: i64, expected_seq: i64 },
    /// The last row is not the recorded chain head: rows at the end were deleted.
    Truncated { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Altered { seq } => {
                write!(f, "event {seq}: content does not match its hash (row edited)")
            }
            ChainBreak::Unlinked { seq, expected_seq } => write!(
                f,
                "event {seq}: does not link to the event before it (expected event {expected_seq} here; rows deleted, inserted or reordered)"
            ),
            ChainBreak::Truncated { head_seq, last_seq } => write!(
                f,
                "event {}: missing (chain head says {head_seq}, last row is {last_seq}; rows deleted at the end)",
                last_seq + 1
            ),
        }
    }
}

/// Walks events in stored order, one at a time, so a long log is checked in bounded memory.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next event; the first error is the first broken link.
    pub fn check(&mut self, e: &AuditEvent) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq || e.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked {
                seq: e.seq,
                expected_seq: self.expected_seq,
            });
        }
        if event_hash(e.seq, &e.prev_hash, &e.as_new()) != e.hash {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// After the last event: the chain must end where the head says it does.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        let last_seq = self.expected_seq - 1;
        if last_seq != head_seq || self.prev_hash != head_hash {
            return Err(ChainBreak::Truncated { head_seq, last_seq });
        }
        Ok(self.checked)
    }
}

// ---- labels: the audit log's words ------------------------------------------------------

impl ChainBreak {
    /// The break in plain Chinese, for the audit page (the `Display` text is for the CLI).
    pub fn label(&self) -> String {
        match self {
            ChainBreak::Altered { seq } => {
                format!("第{seq}条记录的内容与其哈希不符（记录被修改）")
            }
            ChainBreak::Unlinked { seq, expected_seq } => format!(
                "第{seq}条记录与前一条记录连接不上（此处应为第{expected_seq}条；有记录被删除、插入或调换顺序）"
            ),
            ChainBreak::Truncated { head_seq, last_seq } => format!(
                "缺少第{}条记录（链头记为第{head_seq}条，最后一条为第{last_seq}条；末尾有记录被删除）",
                last_seq + 1
            ),
        }
    }
}

/// Every action the store records, with its Chinese name: the one table the audit page,
/// its filter and any export read. Case and ticket actions are `case.` / `ticket.` plus
/// the state machines' action names (`cases::CaseAction::name`, `queue::TicketAction::name`)
/// and carry the machines' own words (checked by the tests below).
pub const ACTIONS: &[(&str, &str)] = &[
    ("auth.login", "登录"),
    ("auth.logout", "退出登录"),
    ("auth.login_failed", "登录失败"),
    ("auth.locked", "账号被锁定"),
    ("user.create", "新建人员"),
    ("user.update", "修改人员信息"),
    ("user.password", "修改密码"),
    ("user.unlock", "解除锁定"),
    ("user.preference", "修改显示偏好"),
    ("org.create", "新建机构"),
    ("org.update", "修改机构"),
    ("apikey.create", "创建API密钥"),
    ("apikey.revoke", "吊销API密钥"),
    ("catalog.item_create", "新增事项"),
    ("catalog.item_version", "事项生成新版本"),
    ("catalog.bundle_save", "保存“一件事”"),
    ("catalog.material_create", "新增材料"),
    ("catalog.material_update", "修改材料"),
    ("fee.payment", "收费"),
    ("fee.refund", "退费"),
    ("fee.waiver", "减免费用"),
    ("calendar.load_year", "导入工作日历"),
    ("settings.set", "修改系统设置"),
    ("case.overdue", "标记超期"),
    ("case.visit", "记录到场"),
    ("ticket.link_case", "关联办件"),
    ("user.window_grant", "授予窗口审批权"),
    ("user.window_grant_revoke", "撤销窗口审批权"),
    (
        "case.credit_code_override",
        "信用代码校验位不符，经核实受理",
    ),
    ("case.backfill", "补录（系统故障期间纸质受理）"),
    ("ticket.issue", "取号"),
    ("ticket.call", "叫号"),
    ("ticket.recall", "重复呼叫"),
    ("ticket.start", "开始办理"),
    ("ticket.start_service", "开始办理"),
    ("ticket.finish", "办结"),
    ("ticket.no_show", "过号"),
    ("ticket.requeue", "重新排队"),
    ("ticket.transfer", "转窗口"),
    ("ticket.cancel", "取消"),
    ("window.state", "窗口开关"),
    ("queue.class_capacity", "修改预约时段容量"),
    ("queue.demo_history", "生成演示取号记录"),
    ("appointment.book", "预约"),
    ("appointment.cancel", "取消预约"),
    ("appointment.check_in", "预约签到"),
    ("appointment.no_show", "预约未到"),
    ("escalation.kind", "设置督办类型"),
    ("escalation.track", "开始督办跟踪"),
    ("escalation.advance", "进入下一环节"),
    ("escalation.close", "结束督办跟踪"),
    ("escalation.warn", "临期预警"),
    ("escalation.escalate", "超期升级督办"),
    ("escalation.exhausted", "超期（已至最高层级）"),
    ("escalation.resolve", "计算待定时限"),
    ("escalation.extend", "延长督办时限"),
    ("notice.read", "标记通知已读"),
    ("outbox.send", "发送短信"),
];

/// The kinds of record the log names (`entity`), with their Chinese names. An action's
/// prefix (`case.`) names its group in the filter: the group's label is its entity's.
pub const ENTITIES: &[(&str, &str)] = &[
    ("user", "人员"),
    ("org", "机构"),
    ("api_key", "API密钥"),
    ("catalog_item", "事项"),
    ("catalog_bundle", "一件事"),
    ("material", "材料"),
    ("calendar", "工作日历"),
    ("setting", "系统设置"),
    ("case", "办件"),
    ("ticket", "排队号"),
    ("window", "窗口"),
    ("queue_class", "业务类别"),
    ("hall", "大厅"),
    ("appointment", "预约"),
    ("tracked_item", "督办事项"),
    ("tracked_kind", "督办类型"),
    ("notice", "通知"),
    ("outbox_message", "短信"),
];

/// Groups of actions (the part before the dot) and the name the filter shows for each.
pub const ACTION_GROUPS: &[(&str, &str)] = &[
    ("auth", "登录"),
    ("user", "人员"),
    ("org", "机构"),
    ("apikey", "API密钥"),
    ("catalog", "事项目录"),
    ("fee", "缴费"),
    ("calendar", "工作日历"),
    ("settings", "系统设置"),
    ("case", "办件"),
    ("ticket", "排队叫号"),
    ("window", "窗口"),
    ("queue", "排队设置"),
    ("appointment", "预约"),
    ("escalation", "督办"),
    ("fallback", "办不成事"),
    ("notice", "通知"),
    ("outbox", "短信"),
];

/// The names of the keys audit details carry (`before`/`after` records and the facts of
/// an action). The catalog item's fields take the catalog's own column names.
const DETAIL_KEYS: &[(&str, &str)] = &[
    ("id", "编号"),
    ("name", "名称"),
    ("username", "用户名"),
    ("display_name", "姓名"),
    ("active", "启用"),
    ("roles", "角色"),
    ("org_id", "所属机构编号"),
    ("org_name", "所属机构"),
    ("org_path", "机构路径"),
    ("failed_logins", "连续登录失败次数"),
    ("locked_until", "锁定至"),
    ("large_text", "大字模式"),
    ("version", "版本"),
    ("kind", "类型"),
    ("parent_id", "上级机构编号"),
    ("path", "机构路径"),
    ("password", "密码"),
    ("sessions", "登录会话"),
    ("failures", "失败次数"),
    ("user_id", "人员编号"),
    ("prefix", "密钥前缀"),
    ("year", "年份"),
    ("special_days", "节假日与调休天数"),
    ("number", "号码"),
    ("priority", "优先"),
    ("source", "来源"),
    ("window", "窗口"),
    ("from", "原状态"),
    ("to", "新状态"),
    ("state", "状态"),
    ("action", "说明"),
    ("case_nos", "关联办件"),
    ("slot_capacity", "每时段可约人数"),
    ("value", "设定值"),
    ("slot", "时段编号"),
    ("day", "日期"),
    ("start", "开始时间"),
    ("class", "业务类别"),
    ("by", "经办"),
    ("ticket", "排队号"),
    ("owner_org_id", "所属机构编号"),
    ("effective_from", "生效日期"),
    ("items", "所含事项"),
    ("item_codes", "所含事项"),
    ("description", "说明"),
    ("payment_id", "收费编号"),
    ("refund_id", "退费编号"),
    ("waiver_id", "减免编号"),
    ("receipt_no", "收据号"),
    ("hall_id", "大厅编号"),
    ("window_number", "窗口号"),
    ("amount_fen", "金额（分）"),
    ("quantity", "数量"),
    ("method", "缴费方式"),
    ("category", "减免类别"),
    ("reason", "原因"),
    ("balance", "缴费情况"),
    ("material_id", "材料编码"),
];

/// The Chinese name of an action code, if it is one the product records.
pub fn action_label(action: &str) -> Option<&'static str> {
    // A case action's name is the machine's own verb: asked, never copied.
    if let Some(kind) = action
        .strip_prefix("case.")
        .and_then(crate::cases::CaseActionKind::parse)
    {
        return Some(kind.label());
    }
    if action.starts_with("fallback.") {
        return crate::fallback::audit_action_label(action);
    }
    ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, l)| *l)
}

/// The Chinese name of an entity kind.
pub fn entity_label(entity: &str) -> Option<&'static str> {
    ENTITIES
        .iter()
        .find(|(e, _)| *e == entity)
        .map(|(_, l)| *l)
        .or_else(|| crate::fallback::audit_entity_label(entity))
}

/// The Chinese name of an action group (`case` for every `case.` action).
pub fn action_group_label(group: &str) -> Option<&'static str> {
    ACTION_GROUPS
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, l)| *l)
}

/// Keys whose meaning depends on the record they describe.
const ENTITY_DETAIL_KEYS: &[(&str, &str, &str)] = &[
    ("appointment", "id", "身份证号码"),
    ("appointment", "by", "预约渠道"),
    ("ticket", "window", "窗口号"),
    ("ticket", "action", "操作"),
    ("case", "action", "说明"),
    ("case", "accepted_at", "原受理时间"),
    ("case", "entered_at", "录入时间"),
    ("case", "reason", "原因"),
    ("window", "number", "窗口号"),
];

/// The Chinese name of a key in the detail of an event about `entity`.
pub fn detail_key_label(entity: &str, key: &str) -> Option<&'static str> {
    ENTITY_DETAIL_KEYS
        .iter()
        .find(|(e, k, _)| *e == entity && *k == key)
        .map(|(_, _, l)| *l)
        .or_else(|| DETAIL_KEYS.iter().find(|(k, _)| *k == key).map(|(_, l)| *l))
        .or_else(|| {
            crate::catalog::CSV_COLUMNS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, l)| *l)
        })
}

/// Where a key comes when a detail is read out: the order of the tables above (who or
/// what first, then the rest), keys the tables do not name last.
pub fn detail_key_rank(key: &str) -> usize {
    DETAIL_KEYS
        .iter()
        .position(|(k, _)| *k == key)
        .or_else(|| {
            crate::catalog::CSV_COLUMNS
                .iter()
                .position(|(k, _)| *k == key)
                .map(|i| DETAIL_KEYS.len() + i)
        })
        .unwrap_or(usize::MAX)
}

/// The Chinese word for a stored value, where the value is one of the product's codes: a
/// state (of a case, ticket or window, by the entity), a role, an organisation kind.
pub fn value_label(entity: &str, key: &str, value: &str) -> Option<&'static str> {
    use crate::{access::Role, cases::CaseState, org::OrgKind, queue};
    match key {
        "from" | "to" | "state" => match entity {
            "case" => CaseState::parse(value).map(CaseState::label),
            "ticket" => queue::TicketState::parse(value).map(queue::TicketState::label),
            "window" => queue::WindowState::parse(value).map(queue::WindowState::label),
            _ => None,
        },
        "roles" => Role::parse(value).map(Role::label),
        "kind" if entity == "material" => {
            crate::materials::MaterialKind::parse(value).map(crate::materials::MaterialKind::label)
        }
        "kind" => OrgKind::parse(value).map(OrgKind::label),
        "item_type" => crate::catalog::ItemType::parse(value).map(crate::catalog::ItemType::label),
        "category" => {
            crate::fees::WaiverCategory::parse(value).map(crate::fees::WaiverCategory::label)
        }
        "method" => crate::fees::PayMethod::parse(value).map(crate::fees::PayMethod::label),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let detail = format!("{{\"n\":{seq}}}");
                let new = NewAuditEvent {
                    at: seq * 1000,
                    actor_user_id: Some(7),
                    actor: "admin",
                    action: "user.create",
                    entity: "user",
                    entity_id: "7",
                    detail: &detail,
                };
                let hash = event_hash(seq, &prev, &new);
                let e = AuditEvent {
                    seq,
                    at: new.at,
                    actor_user_id: new.actor_user_id,
                    actor: new.actor.into(),
                    action: new.action.into(),
                    entity: new.entity.into(),
                    entity_id: new.entity_id.into(),
                    detail: detail.clone(),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(events: &[AuditEvent], head: (i64, &str)) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for e in events {
            v.check(e)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
    }

    #[test]
    fn edit_is_named() {
        let mut c = chain(5);
        c[2].detail = "{\"n\":99}".into();
        let head = c[4].hash.clone();
        assert_eq!(verify(&c, (5, &head)), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn delete_in_the_middle_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        c.remove(1);
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Unlinked {
                seq: 3,
                expected_seq: 2
            })
        );
    }

    #[test]
    fn delete_at_the_end_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        c.pop();
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Truncated {
                head_seq: 5,
                last_seq: 4
            })
        );
    }

    #[test]
    fn reorder_is_named() {
        let mut c = chain(5);
        let head = c[4].hash.clone();
        // Swap the contents of rows 2 and 3 but keep their seq numbers in place.
        let (a, b) = (c[1].clone(), c[2].clone());
        c[1] = AuditEvent { seq: 2, ..b };
        c[2] = AuditEvent { seq: 3, ..a };
        assert_eq!(
            verify(&c, (5, &head)),
            Err(ChainBreak::Unlinked {
                seq: 2,
                expected_seq: 2
            })
        );
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let a = NewAuditEvent {
            at: 1,
            actor_user_id: None,
            actor: "ab",
            action: "c",
            entity: "",
            entity_id: "",
            detail: "",
        };
        let b = NewAuditEvent {
            actor: "a",
            action: "bc",
            ..a.clone()
        };
        assert_ne!(
            event_hash(1, GENESIS_HASH, &a),
            event_hash(1, GENESIS_HASH, &b)
        );
    }

    #[test]
    fn every_action_and_entity_has_one_chinese_name() {
        let mut seen = std::collections::HashSet::new();
        for (code, label) in ACTIONS {
            assert!(seen.insert(*code), "{code} listed twice");
            assert!(!label.is_empty() && !label.is_ascii(), "{code}: {label}");
            let (group, _) = code.split_once('.').expect("group.action");
            assert!(action_group_label(group).is_some(), "{code}: group {group}");
        }
        assert_eq!(action_label("user.create"), Some("新建人员"));
        assert_eq!(action_label("no.such"), None);
        assert_eq!(entity_label("case"), Some("办件"));
        assert_eq!(detail_key_label("user", "display_name"), Some("姓名"));
        assert_eq!(
            detail_key_label("catalog_item", "promised_limit_days"),
            Some("承诺时限")
        );
        assert_eq!(detail_key_label("appointment", "id"), Some("身份证号码"));
        assert_eq!(detail_key_label("user", "id"), Some("编号"));
        assert_eq!(detail_key_label("user", "no_such_key"), None);
    }

    /// The case and ticket actions carry the state machines' own words, so the log says
    /// what the case page says.
    #[test]
    fn machine_actions_use_the_machines_words() {
        use crate::cases::{CaseAction, IssueMethod};
        use crate::queue::TicketAction;
        let s = String::new;
        let cases = [
            CaseAction::Accept {
                kind: crate::catalog::AcceptanceKind::Normal,
                supplement_due: None,
            },
            CaseAction::Refuse { missing: vec![] },
            CaseAction::Route,
            CaseAction::Take,
            CaseAction::Approve { opinion: s() },
            CaseAction::Reject {
                reasons: s(),
                legal_basis: s(),
            },
            CaseAction::Return {
                reasons: s(),
                items: vec![],
            },
            CaseAction::Resubmit,
            CaseAction::SupplementReceived,
            CaseAction::CompleteAtWindow { opinion: s() },
            CaseAction::ResultReady,
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: None,
                certificate_no: None,
            },
            CaseAction::Close,
            CaseAction::Withdraw { reason: s() },
            CaseAction::Lapse,
        ];
        for a in &cases {
            let code = format!("case.{}", a.name());
            assert_eq!(action_label(&code), Some(a.label()), "{code}");
        }
        let tickets = [
            TicketAction::Call,
            TicketAction::Recall,
            TicketAction::StartService,
            TicketAction::Finish,
            TicketAction::NoShow,
            TicketAction::Requeue,
            TicketAction::Transfer { to_class: s() },
            TicketAction::Cancel,
        ];
        for a in &tickets {
            let code = format!("ticket.{}", a.name());
            assert_eq!(action_label(&code), Some(a.label()), "{code}");
        }
    }

    #[test]
    fn stored_codes_read_as_words() {
        assert_eq!(value_label("case", "to", "in_review"), Some("审查中"));
        assert_eq!(value_label("ticket", "from", "waiting"), Some("等候中"));
        assert_eq!(value_label("window", "to", "open"), Some("开放"));
        assert_eq!(
            value_label("user", "roles", "window_clerk"),
            Some("综合受理窗口人员")
        );
        assert_eq!(value_label("org", "kind", "street"), Some("街道"));
        assert_eq!(value_label("material", "kind", "proof"), Some("证明"));
        assert_eq!(value_label("case", "category", "disabled"), Some("残疾人"));
        assert_eq!(value_label("case", "method", "mobile"), Some("移动支付"));
        assert_eq!(detail_key_label("case", "waiver_id"), Some("减免编号"));
        assert_eq!(value_label("setting", "to", "open"), None);
    }

    #[test]
    fn chain_breaks_are_described_in_chinese() {
        let b = ChainBreak::Altered { seq: 3 };
        assert!(b.label().contains("第3条"));
        assert!(!b.label().is_ascii());
    }
}
