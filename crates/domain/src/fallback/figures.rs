//! The fallback window's figures. Each is read from the daily rollup (`fallback_rollup`),
//! which every act writes in its own transaction; a metric is counted on the day of the
//! act that settles it (a response on the day it was given, an outcome on the day of 办结).

use serde::{Deserialize, Serialize};

words! {
    /// A counter of the rollup. `dim` is `org` (the window's organisation) unless noted.
    pub enum Metric {
        /// Cases taken in (by the day of receipt).
        Received = ("received", "受理"),
        /// Not taken (negative list or conditions not met), or sent back to 12345.
        Refused = ("refused", "不予受理"),
        /// Classified (the response), and of those within the respond limit (1 hour).
        Responded = ("responded", "已响应"),
        RespondedOnTime = ("responded_on_time", "按时响应"),
        /// Coordination finished, and of those within the coordinate limit (3 WD).
        Coordinated = ("coordinated", "协调完成"),
        CoordinatedOnTime = ("coordinated_on_time", "按时协调"),
        /// 办结, and of those within the close limit (7 WD from receipt, before extension).
        Concluded = ("concluded", "办结"),
        ConcludedOnTime = ("concluded_on_time", "按时办结"),
        Solved = ("solved", "已解决"),
        PartlySolved = ("partly_solved", "部分解决"),
        Unsolved = ("unsolved", "未解决"),
        ToPolicy = ("to_policy", "转政策建议"),
        /// Concluded cases above the window tier (joint meeting, leading group), and the sum
        /// of their working days from receipt to 办结.
        ComplexConcluded = ("complex_concluded", "复杂案件办结"),
        ComplexWorkingDays = ("complex_working_days", "复杂案件办理工作日合计"),
        /// Coordination rounds of the concluded cases (sum).
        Rounds = ("rounds", "协调轮次合计"),
        /// Extensions approved.
        Extended = ("extended", "延期"),
        /// Satisfaction given at feedback, and of those 非常满意/满意/基本满意.
        Rated = ("rated", "评价"),
        Satisfied = ("satisfied", "满意"),
        /// A department's 否定答复报告 (dim `dept`).
        RefusalReports = ("refusal_reports", "否定答复"),
        /// Policy suggestions decided, and of those adopted.
        SuggestionsDecided = ("suggestions_decided", "建议已决定"),
        SuggestionsAdopted = ("suggestions_adopted", "建议已采纳"),
    }
}
