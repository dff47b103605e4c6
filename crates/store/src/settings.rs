//! Settings an administrator can change at run time (thresholds, periods), with defaults.

use crate::audit::{self, Change};
use crate::{Result, StoreError};
use serde_json::json;
use sqlx::{AnyConnection, AnyPool, Row};

/// Known integer settings: key, default, Chinese description, allowed range.
pub const INT_SETTINGS: &[(&str, i64, &str, i64, i64)] = &[
    (
        "deadline.yellow_days",
        2,
        "剩余工作日不多于此数时亮黄灯",
        0,
        30,
    ),
    (
        "deadline.red_days",
        1,
        "剩余工作日不多于此数时亮红灯",
        0,
        30,
    ),
    (
        "intake.supplement_days",
        5,
        "容缺受理后补齐材料的期限（工作日）",
        1,
        60,
    ),
    (
        "queue.priority_boost_minutes",
        30,
        "爱心通道：优先号按提前多少分钟取号排序（0为不优先）",
        0,
        1440,
    ),
    (
        "queue.appointment_lead_minutes",
        10,
        "预约号：按预约时段开始前多少分钟排序（签到再早也不提前）",
        0,
        120,
    ),
    (
        "queue.check_in_before_minutes",
        30,
        "预约签到：最早可在时段开始前多少分钟签到",
        0,
        480,
    ),
    (
        "queue.check_in_after_minutes",
        15,
        "预约签到：最晚可在时段开始后多少分钟签到",
        0,
        240,
    ),
    (
        "queue.kiosk_reset_seconds",
        20,
        "自助取号机：出号或提示后多少秒回到取号首页",
        3,
        300,
    ),
    ("queue.max_recalls", 2, "同一个号最多重复呼叫次数", 0, 10),
    (
        "escalation.warn_permille",
        200,
        "督办事项剩余时限不多于此千分比时发出临期预警（200即20%，0为不预警）",
        0,
        1000,
    ),
    (
        "rating.late_days",
        15,
        "补充评价：办结后多少天内可以评价",
        0,
        365,
    ),
    (
        "rating.invite_after_days",
        3,
        "办结后多少天仍未评价时发送邀评短信",
        1,
        60,
    ),
    (
        "rating.basic_counts_as_good",
        1,
        "好评率是否计入“基本满意”（1计入，0不计入）",
        0,
        1,
    ),
    (
        "rating.threshold_permille",
        850,
        "满意度低于此千分比的单位列入整改名单（850即85%）",
        0,
        1000,
    ),
    (
        "rating.threshold_min_ratings",
        10,
        "满意度不达标名单：近30天评价不少于此数才列入",
        1,
        1000,
    ),
    ("rating.verify_days", 3, "差评核实时限（工作日）", 1, 30),
    (
        "rating.rectify_days",
        15,
        "差评限期整改时限（工作日）",
        1,
        60,
    ),
    ("rating.callback_days", 3, "整改后回访时限（工作日）", 1, 30),
    (
        "rating.device_prompt_minutes",
        10,
        "完成办理后评价器显示评价提示的分钟数",
        1,
        120,
    ),
    (
        "rating.star_min_ratings",
        10,
        "星级窗口：当月评价不少于此数才评定星级",
        1,
        1000,
    ),
    (
        "fallback.accept_hours",
        24,
        "办不成事：12345转办接收或退回时限（小时）",
        1,
        168,
    ),
    (
        "fallback.respond_hours",
        1,
        "办不成事：受理后响应（分类定级）时限（小时）",
        1,
        72,
    ),
    (
        "fallback.coordinate_days",
        3,
        "办不成事：协调时限（工作日）",
        1,
        60,
    ),
    (
        "fallback.close_days",
        7,
        "办不成事：自受理起办结时限（工作日，窗口直接协调）",
        1,
        120,
    ),
    (
        "fallback.close_days_joint_meeting",
        7,
        "办不成事：联席会议协调的案件自受理起办结时限（工作日，不短于窗口时限）",
        1,
        120,
    ),
    (
        "fallback.close_days_leading_group",
        7,
        "办不成事：领导小组研究的案件自受理起办结时限（工作日，不短于窗口时限）",
        1,
        240,
    ),
    (
        "fallback.feedback_days",
        2,
        "办不成事：办结后反馈时限（工作日）",
        1,
        30,
    ),
    (
        "fallback.verify_days",
        3,
        "办不成事：反馈后核查时限（工作日）",
        1,
        30,
    ),
    (
        "fallback.file_days",
        3,
        "办不成事：核查后备案时限（工作日）",
        1,
        30,
    ),
    (
        "fallback.max_rounds_per_tier",
        2,
        "办不成事：同一层级跨部门协调次数上限",
        1,
        10,
    ),
    (
        "fallback.max_extension_days",
        10,
        "办不成事：复杂案件一次延期最多工作日",
        1,
        60,
    ),
    (
        "complaints.dispatch_emergency_hours",
        1,
        "接诉即办：紧急（危及生命财产安全）诉求派单时限（小时）",
        1,
        24,
    ),
    (
        "complaints.dispatch_utilities_hours",
        2,
        "接诉即办：水电气热、极端天气诉求派单时限（小时）",
        1,
        48,
    ),
    (
        "complaints.dispatch_ordinary_hours",
        24,
        "接诉即办：一般诉求派单时限（小时）",
        1,
        168,
    ),
    (
        "complaints.feedback_emergency_hours",
        2,
        "接诉即办：紧急诉求自派单起反馈时限（小时）",
        1,
        72,
    ),
    (
        "complaints.feedback_utilities_hours",
        24,
        "接诉即办：水电气热诉求自派单起反馈时限（小时）",
        1,
        168,
    ),
    (
        "complaints.feedback_ordinary_days",
        7,
        "接诉即办：一般诉求自派单起反馈时限（自然日）",
        1,
        60,
    ),
    (
        "complaints.feedback_complex_days",
        15,
        "接诉即办：复杂诉求自派单起反馈时限（自然日）",
        1,
        90,
    ),
    (
        "complaints.max_reopens",
        2,
        "接诉即办：回访不满意重办同一部门的次数上限，超过转督办",
        0,
        10,
    ),
    (
        "complaints.callback_days",
        2,
        "接诉即办：答复后回访时限（工作日）",
        1,
        30,
    ),
    (
        "complaints.seed_preset",
        0,
        "接诉即办：1为采用更严的“24小时响应、3个工作日办结”预设（一般诉求）",
        0,
        1,
    ),
    (
        "complaints.duplicate_days",
        30,
        "接诉即办：查重时回看的天数",
        1,
        365,
    ),
    (
        "complaints.duplicate_metres",
        200,
        "接诉即办：同类诉求在此距离（米）内提示疑似重复",
        10,
        5000,
    ),
    (
        "grid.duplicate_metres",
        50,
        "网格事件：同类未办结事件在此距离（米）内提示疑似重复",
        5,
        5000,
    ),
    (
        "grid.photo_max_kb",
        10240,
        "网格事件：每张照片的大小上限（KB）",
        64,
        20480,
    ),
    (
        "queue.no_show_limit",
        3,
        "90天内预约未到达到此次数后暂停在线预约（0为不限）",
        0,
        20,
    ),
];

fn known(key: &str) -> Option<&'static (&'static str, i64, &'static str, i64, i64)> {
    INT_SETTINGS.iter().find(|s| s.0 == key)
}

/// The value of an integer setting, or its default.
pub async fn get_int(pool: &AnyPool, key: &str) -> Result<i64> {
    // An unknown key is a programming error: fail loudly rather than read a silent 0.
    let default = known(key)
        .map(|s| s.1)
        .ok_or_else(|| StoreError::Config(format!("unknown setting {key}")))?;
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(row
        .and_then(|r| r.get::<String, _>("value").parse().ok())
        .unwrap_or(default))
}

/// Several integer settings in one statement (or their defaults), in the order asked:
/// for reads on every request, such as the light thresholds of every case list.
pub async fn get_ints<const N: usize>(pool: &AnyPool, keys: [&str; N]) -> Result<[i64; N]> {
    let mut out = [0i64; N];
    for (v, key) in out.iter_mut().zip(keys) {
        *v = known(key)
            .map(|s| s.1)
            .ok_or_else(|| StoreError::Config(format!("unknown setting {key}")))?;
    }
    let placeholders: Vec<String> = (1..=N).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT key, value FROM settings WHERE key IN ({})",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for key in keys {
        q = q.bind(key);
    }
    for r in q.fetch_all(pool).await? {
        let key: String = r.get("key");
        if let (Some(i), Ok(v)) = (
            keys.iter().position(|k| *k == key),
            r.get::<String, _>("value").parse(),
        ) {
            out[i] = v;
        }
    }
    Ok(out)
}

pub async fn set_int(
    conn: &mut AnyConnection,
    change: &Change,
    key: &str,
    value: i64,
) -> Result<()> {
    let Some((_, _, label, min, max)) = known(key) else {
        return Err(StoreError::invalid(
            "key",
            "unknown",
            format!("未知设置项{key}"),
        ));
    };
    if value < *min || value > *max {
        return Err(StoreError::invalid(
            "value",
            "out_of_range",
            format!("{label}：取值应在{min}至{max}之间"),
        ));
    }
    write(conn, change, key, &value.to_string(), json!(value)).await
}

/// A JSON setting (e.g. a hall's opening hours), if set.
pub async fn get_json(pool: &AnyPool, key: &str) -> Result<Option<serde_json::Value>> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.get::<String, _>("value")).ok()))
}

pub async fn set_json(
    conn: &mut AnyConnection,
    change: &Change,
    key: &str,
    value: &serde_json::Value,
) -> Result<()> {
    write(conn, change, key, &value.to_string(), json!(value)).await
}

/// Stores one setting's text and audits it, for both kinds of setting.
async fn write(
    conn: &mut AnyConnection,
    change: &Change,
    key: &str,
    text: &str,
    value: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(text)
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "settings.set",
        "setting",
        key,
        &json!({ "value": value }),
    )
    .await?;
    Ok(())
}
