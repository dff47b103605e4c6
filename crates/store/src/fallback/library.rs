//! 案例库 and 政策建议: the records. The rules (anonymisation, terms, ranking formula, the
//! suggestion's steps) are `onewindow_domain::fallback::library`.
//!
//! - A filed case solved or partly solved enters the library once ([`index_case`], called
//!   in the filing transaction): its texts anonymised, its terms with their weights in
//!   `fallback_library_terms`.
//! - [`search`] ranks entries by the summed `weight × idf` of the query's terms (formula in
//!   the domain), keyset-paged by (score, id); without terms it lists the newest first. The
//!   tag filter is the tag's exact term (one index lookup). [`similar`] is the first page of
//!   a search for a new problem's text.
//! - A suggestion is recorded with the cases behind it ([`create_suggestion`],
//!   [`propose_from_case`]) and moved by [`decide_suggestion`] (optimistic `version`); a
//!   decision counts in the rollup (`SuggestionsDecided`, `SuggestionsAdopted`) on the
//!   Beijing day it is recorded.

use crate::audit::{self, Change};
use crate::fallback::rollup::{self, Dim};
use crate::page::PageRequest;
use crate::{Result, StoreError};
use onewindow_domain::fallback::figures::Metric;
use onewindow_domain::fallback::library::{
    self as rules, anonymise, enters_library, idf_milli, query_terms, tag_term, term_weights,
    Decision, Known,
};
use onewindow_domain::fallback::{Outcome, SuggestionState};
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{check_text, FieldErrors};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

// ---- the library -----------------------------------------------------------------------------

/// One library entry (anonymised).
#[derive(Debug, Clone, Serialize)]
pub struct LibraryEntry {
    pub id: i64,
    pub case_id: i64,
    pub org_id: i64,
    pub org_name: String,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub title: String,
    pub problem: String,
    pub solution: String,
    pub tags: Vec<String>,
    pub outcome: String,
    pub outcome_label: String,
    /// UTC microseconds of 办结.
    pub solved_at: i64,
    /// The search score (summed weight × idf ‰), when found by a query.
    pub score: Option<i64>,
}

const ENTRY_COLUMNS: &str = "l.id, l.case_id, l.org_id, o.name AS org_name, o.path AS org_path, \
     l.title, l.problem, l.solution, l.tags, l.outcome, l.solved_at";

fn entry_from_row(r: &AnyRow, scored: bool) -> LibraryEntry {
    let outcome: String = r.get("outcome");
    LibraryEntry {
        id: r.get("id"),
        case_id: r.get("case_id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        title: r.get("title"),
        problem: r.get("problem"),
        solution: r.get("solution"),
        tags: serde_json::from_str(&r.get::<String, _>("tags")).unwrap_or_default(),
        outcome_label: Outcome::parse(&outcome)
            .map(|o| o.label().to_string())
            .unwrap_or_default(),
        outcome,
        solved_at: r.get("solved_at"),
        score: scored.then(|| r.get("score")),
    }
}

/// Puts a filed case into the library if its outcome is solved or partly solved (else
/// `None`), anonymised, with its search terms; audited. Called in the filing transaction.
/// A case already in the library returns its entry (UNIQUE(case_id): once).
pub async fn index_case(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
) -> Result<Option<i64>> {
    let r = sqlx::query(
        "SELECT id, org_id, title, description, person_name, company_name, tags, outcome, \
         conclusion, concluded_at FROM fallback_cases WHERE id = $1",
    )
    .bind(case_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let outcome: Option<String> = r.get("outcome");
    let Some(outcome) = outcome.as_deref().and_then(Outcome::parse) else {
        return Ok(None);
    };
    if !enters_library(outcome) {
        return Ok(None);
    }
    if let Some(existing) = sqlx::query("SELECT id FROM fallback_library WHERE case_id = $1")
        .bind(case_id)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(Some(existing.get("id")));
    }
    let person: String = r.get("person_name");
    let company: String = r.get("company_name");
    let known = Known {
        person_names: vec![person.as_str()],
        company_names: vec![company.as_str()],
    };
    let title = anonymise(&r.get::<String, _>("title"), &known);
    let problem = anonymise(&r.get::<String, _>("description"), &known);
    let conclusion: Option<String> = r.get("conclusion");
    let solution = anonymise(conclusion.as_deref().unwrap_or(""), &known);
    let tags: Vec<String> = serde_json::from_str(&r.get::<String, _>("tags")).unwrap_or_default();
    let concluded_at: Option<i64> = r.get("concluded_at");
    let org_id: i64 = r.get("org_id");
    let id = insert_entry(
        conn,
        case_id,
        org_id,
        &title,
        &problem,
        &solution,
        &tags,
        outcome,
        concluded_at.unwrap_or(change.at),
    )
    .await?;
    audit::append(
        conn,
        change,
        "fallback.library.index",
        "fallback_case",
        &case_id.to_string(),
        &json!({ "entry_id": id, "outcome": outcome.as_str() }),
    )
    .await?;
    Ok(Some(id))
}

#[allow(clippy::too_many_arguments)]
async fn insert_entry(
    conn: &mut AnyConnection,
    case_id: i64,
    org_id: i64,
    title: &str,
    problem: &str,
    solution: &str,
    tags: &[String],
    outcome: Outcome,
    solved_at: i64,
) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO fallback_library (case_id, org_id, title, problem, solution, tags, outcome, \
         solved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(case_id)
    .bind(org_id)
    .bind(title)
    .bind(problem)
    .bind(solution)
    .bind(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()))
    .bind(outcome.as_str())
    .bind(solved_at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let terms = term_weights(title, problem, solution, tags);
    for chunk in terms.chunks(200) {
        let mut sql =
            String::from("INSERT INTO fallback_library_terms (term, entry_id, weight) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${}, ${})", i * 3 + 1, i * 3 + 2, i * 3 + 3));
        }
        let mut q = sqlx::query(&sql);
        for (term, weight) in chunk {
            q = q.bind(term.clone()).bind(id).bind(*weight);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(id)
}

/// One entry by id (the caller authorises against `org_path`).
pub async fn entry<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<LibraryEntry> {
    sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM fallback_library l JOIN orgs o ON o.id = l.org_id WHERE l.id = $1"
    ))
    .bind(id)
    .fetch_optional(e)
    .await?
    .map(|r| entry_from_row(&r, false))
    .ok_or(StoreError::NotFound)
}

/// Whether `search` ranks (a query was given) or lists newest first; decides the shape of
/// the page's sort key: `[score, id]` ranked, `[id]` listed.
pub fn is_ranked(q: &str) -> bool {
    !q.trim().is_empty()
}

/// Entries of organisations inside `scope`, optionally with `tag`: ranked by the query's
/// terms (see the domain's formula), or the newest first without a query. A query with no
/// searchable words (only a number, only stop words) finds nothing. Fetches
/// `req.fetch()` rows after `req.after` (`[score, id]` ranked, `[id]` listed).
pub async fn search(
    pool: &AnyPool,
    scope: &OrgPath,
    q: &str,
    tag: Option<&str>,
    req: &PageRequest,
) -> Result<Vec<LibraryEntry>> {
    let tag = tag.map(str::trim).filter(|t| !t.is_empty());
    if !is_ranked(q) {
        return newest(pool, scope, tag, req).await;
    }
    let terms = query_terms(q);
    if terms.is_empty() {
        return Ok(vec![]);
    }
    ranked(pool, scope, &terms, tag, req).await
}

async fn newest(
    pool: &AnyPool,
    scope: &OrgPath,
    tag: Option<&str>,
    req: &PageRequest,
) -> Result<Vec<LibraryEntry>> {
    let before = req.after_int(0).unwrap_or(i64::MAX);
    let upper = crate::path_upper_bound(scope.as_str());
    let rows = match tag {
        Some(t) => {
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM fallback_library_terms g \
                 JOIN fallback_library l ON l.id = g.entry_id JOIN orgs o ON o.id = l.org_id \
                 WHERE g.term = $1 AND g.entry_id < $2 AND o.path >= $3 AND o.path < $4 \
                 ORDER BY g.entry_id DESC LIMIT $5"
            ))
            .bind(tag_term(t))
            .bind(before)
            .bind(scope.as_str())
            .bind(upper)
            .bind(req.fetch())
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM fallback_library l JOIN orgs o ON o.id = l.org_id \
                 WHERE l.id < $1 AND o.path >= $2 AND o.path < $3 ORDER BY l.id DESC LIMIT $4"
            ))
            .bind(before)
            .bind(scope.as_str())
            .bind(upper)
            .bind(req.fetch())
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows.iter().map(|r| entry_from_row(r, false)).collect())
}

/// `idf ‰` of each term (see the domain's formula): N is the highest entry id (entries are
/// never removed, so it is their count without a scan), df counted on the term's index range.
async fn idfs(pool: &AnyPool, terms: &[String]) -> Result<Vec<(String, i64)>> {
    let n: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM fallback_library")
        .fetch_one(pool)
        .await?
        .get("n");
    let list = (1..=terms.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT term, COUNT(*) AS df FROM fallback_library_terms WHERE term IN ({list}) GROUP BY term"
    );
    let mut q = sqlx::query(&sql);
    for t in terms {
        q = q.bind(t.clone());
    }
    Ok(q.fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let term: String = r.get("term");
            let df: i64 = r.get("df");
            (term, idf_milli(n, df))
        })
        .collect())
}

async fn ranked(
    pool: &AnyPool,
    scope: &OrgPath,
    terms: &[String],
    tag: Option<&str>,
    req: &PageRequest,
) -> Result<Vec<LibraryEntry>> {
    let idf = idfs(pool, terms).await?;
    if idf.is_empty() {
        return Ok(vec![]);
    }
    // $1.. : term, idf pairs for the CASE; then the IN list reuses the term placeholders.
    let mut case = String::from("CASE t.term");
    let mut list = Vec::new();
    for i in 0..idf.len() {
        case.push_str(&format!(" WHEN ${} THEN ${}", i * 2 + 1, i * 2 + 2));
        list.push(format!("${}", i * 2 + 1));
    }
    case.push_str(" ELSE 0 END");
    let mut next = idf.len() * 2 + 1;
    let mut p = || {
        let s = format!("${next}");
        next += 1;
        s
    };
    let (lower, upper) = (p(), p());
    let tag_filter = match tag {
        Some(_) => format!(
            " AND EXISTS (SELECT 1 FROM fallback_library_terms g WHERE g.term = {} AND g.entry_id = l.id)",
            p()
        ),
        None => String::new(),
    };
    let keyset = match (req.after_int(0), req.after_int(1)) {
        (Some(_), Some(_)) => {
            let (s, i) = (p(), p());
            format!(" WHERE s.score < {s} OR (s.score = {s} AND s.id < {i})")
        }
        _ => String::new(),
    };
    let limit = p();
    let sql = format!(
        "SELECT * FROM (SELECT l.id, l.case_id, l.org_id, o.name AS org_name, o.path AS org_path, \
         l.title, l.problem, l.solution, l.tags, l.outcome, l.solved_at, \
         CAST(SUM(t.weight * {case}) AS BIGINT) AS score \
         FROM fallback_library_terms t JOIN fallback_library l ON l.id = t.entry_id \
         JOIN orgs o ON o.id = l.org_id \
         WHERE t.term IN ({}) AND o.path >= {lower} AND o.path < {upper}{tag_filter} \
         GROUP BY l.id, l.case_id, l.org_id, o.name, o.path, l.title, l.problem, l.solution, \
         l.tags, l.outcome, l.solved_at) s{keyset} ORDER BY s.score DESC, s.id DESC LIMIT {limit}",
        list.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for (term, w) in &idf {
        q = q.bind(term.clone()).bind(*w);
    }
    q = q
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()));
    if let Some(t) = tag {
        q = q.bind(tag_term(t));
    }
    if let (Some(s), Some(i)) = (req.after_int(0), req.after_int(1)) {
        q = q.bind(s).bind(i);
    }
    q = q.bind(req.fetch());
    Ok(q.fetch_all(pool)
        .await?
        .iter()
        .map(|r| entry_from_row(r, true))
        .collect())
}

/// The `n` entries inside `scope` most like a new problem's `text` (the intake page shows
/// them to the officer); none when the text has no searchable words.
pub async fn similar(
    pool: &AnyPool,
    scope: &OrgPath,
    text: &str,
    n: i64,
) -> Result<Vec<LibraryEntry>> {
    let terms = query_terms(text);
    if terms.is_empty() || n <= 0 {
        return Ok(vec![]);
    }
    let mut rows = ranked(pool, scope, &terms, None, &PageRequest::first(n)).await?;
    rows.truncate(usize::try_from(n).unwrap_or(0));
    Ok(rows)
}

// ---- policy suggestions ------------------------------------------------------------------------

/// A policy suggestion.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub title: String,
    pub content: String,
    pub state: SuggestionState,
    pub state_label: &'static str,
    pub proposed_by: i64,
    pub proposer: String,
    pub proposed_at: i64,
    pub deciding_body: Option<String>,
    pub decided_on: Option<String>,
    pub decision_note: Option<String>,
    pub version: i64,
}

const SUGGESTION_COLUMNS: &str =
    "s.id, s.org_id, o.name AS org_name, o.path AS org_path, s.title, \
     s.content, s.state, s.proposed_by, u.display_name AS proposer, s.proposed_at, \
     s.deciding_body, s.decided_on, s.decision_note, s.version";
const SUGGESTION_FROM: &str = "fallback_suggestions s JOIN orgs o ON o.id = s.org_id \
     JOIN users u ON u.id = s.proposed_by";

fn suggestion_from_row(r: &AnyRow) -> Suggestion {
    let state =
        SuggestionState::parse(&r.get::<String, _>("state")).unwrap_or(SuggestionState::Proposed);
    Suggestion {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        title: r.get("title"),
        content: r.get("content"),
        state,
        state_label: state.label(),
        proposed_by: r.get("proposed_by"),
        proposer: r.get("proposer"),
        proposed_at: r.get("proposed_at"),
        deciding_body: r.get("deciding_body"),
        decided_on: r.get("decided_on"),
        decision_note: r.get("decision_note"),
        version: r.get("version"),
    }
}

/// A case a suggestion cites (staff read it; the person's data stays on the case).
#[derive(Debug, Clone, Serialize)]
pub struct CaseRef {
    pub id: i64,
    pub case_no: String,
    pub org_id: i64,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub title: String,
    pub state: String,
    pub outcome: Option<String>,
    pub outcome_label: Option<&'static str>,
    /// Its library entry, if it is in the library.
    pub library_id: Option<i64>,
}

fn case_ref_from_row(r: &AnyRow) -> CaseRef {
    let outcome: Option<String> = r.get("outcome");
    CaseRef {
        id: r.get("id"),
        case_no: r.get("case_no"),
        org_id: r.get("org_id"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        title: r.get("title"),
        state: r.get("state"),
        outcome_label: outcome
            .as_deref()
            .and_then(Outcome::parse)
            .map(|o| o.label()),
        outcome,
        library_id: r.get("library_id"),
    }
}

const CASE_REF_SELECT: &str = "SELECT c.id, c.case_no, c.org_id, o.path AS org_path, c.title, \
     c.state, c.outcome, l.id AS library_id FROM fallback_cases c JOIN orgs o ON o.id = c.org_id \
     LEFT JOIN fallback_library l ON l.case_id = c.id";

/// The cases with these ids (unknown ids are left out), for authorising a suggestion.
pub async fn case_refs(pool: &AnyPool, ids: &[i64]) -> Result<Vec<CaseRef>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let list = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("{CASE_REF_SELECT} WHERE c.id IN ({list}) ORDER BY c.id");
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(pool)
        .await?
        .iter()
        .map(case_ref_from_row)
        .collect())
}

/// The case with this number, if any.
pub async fn case_ref_by_number(pool: &AnyPool, case_no: &str) -> Result<Option<CaseRef>> {
    Ok(
        sqlx::query(&format!("{CASE_REF_SELECT} WHERE c.case_no = $1"))
            .bind(case_no)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(case_ref_from_row),
    )
}

/// The cases behind a suggestion.
pub async fn suggestion_cases(pool: &AnyPool, id: i64) -> Result<Vec<CaseRef>> {
    Ok(sqlx::query(&format!(
        "{CASE_REF_SELECT} JOIN fallback_suggestion_cases sc ON sc.case_id = c.id \
         WHERE sc.suggestion_id = $1 ORDER BY c.id"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(case_ref_from_row)
    .collect())
}

pub async fn suggestion<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<Suggestion> {
    sqlx::query(&format!(
        "SELECT {SUGGESTION_COLUMNS} FROM {SUGGESTION_FROM} WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(e)
    .await?
    .as_ref()
    .map(suggestion_from_row)
    .ok_or(StoreError::NotFound)
}

/// Suggestions of organisations inside `scope`, newest first, optionally in one state;
/// `req.fetch()` rows after id `req.after[0]`.
pub async fn suggestions_in_scope(
    pool: &AnyPool,
    scope: &OrgPath,
    state: Option<SuggestionState>,
    req: &PageRequest,
) -> Result<Vec<Suggestion>> {
    let filter = if state.is_some() {
        " AND s.state = $5"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {SUGGESTION_COLUMNS} FROM {SUGGESTION_FROM} \
         WHERE o.path >= $1 AND o.path < $2 AND s.id < $3{filter} ORDER BY s.id DESC LIMIT $4"
    );
    let mut q = sqlx::query(&sql)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()))
        .bind(req.after_int(0).unwrap_or(i64::MAX))
        .bind(req.fetch());
    if let Some(s) = state {
        q = q.bind(s.as_str());
    }
    Ok(q.fetch_all(pool)
        .await?
        .iter()
        .map(suggestion_from_row)
        .collect())
}

/// Records a suggestion with the cases behind it (at least one, all of one organisation,
/// which the suggestion belongs to); proposed by the acting user; audited.
pub async fn create_suggestion(
    conn: &mut AnyConnection,
    change: &Change,
    title: &str,
    content: &str,
    case_ids: &[i64],
) -> Result<Suggestion> {
    let mut errors = FieldErrors::new();
    for (field, label, value, limit) in [
        ("title", "建议标题", title, rules::SUGGESTION_TITLE),
        ("content", "建议内容", content, rules::SUGGESTION_CONTENT),
    ] {
        if value.trim().is_empty() {
            errors.add(field, "required", format!("请填写{label}"));
        } else if let Err(e) = check_text(field, label, value, limit) {
            errors.0.push(e);
        }
    }
    let mut ids: Vec<i64> = case_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        errors.add("case_ids", "required", "请列出建议所依据的案件");
    } else if ids.len() > rules::MAX_SUGGESTION_CASES {
        errors.add(
            "case_ids",
            "too_many",
            format!("一条建议最多列{}个案件", rules::MAX_SUGGESTION_CASES),
        );
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let proposer = change.who.user_id.ok_or_else(|| {
        StoreError::invalid("proposed_by", "required", "政策建议须由工作人员提出")
    })?;
    let mut org_id = None;
    for id in &ids {
        let r = sqlx::query("SELECT org_id FROM fallback_cases WHERE id = $1")
            .bind(*id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| {
                StoreError::invalid("case_ids", "unknown", format!("没有编号为{id}的案件"))
            })?;
        let o: i64 = r.get("org_id");
        match org_id {
            None => org_id = Some(o),
            Some(prev) if prev != o => {
                return Err(StoreError::invalid(
                    "case_ids",
                    "mixed_orgs",
                    "一条建议所依据的案件须属于同一个窗口",
                ))
            }
            Some(_) => {}
        }
    }
    let org_id = org_id.ok_or(StoreError::NotFound)?;
    let id: i64 = sqlx::query(
        "INSERT INTO fallback_suggestions (org_id, title, content, state, proposed_by, proposed_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(org_id)
    .bind(title.trim())
    .bind(content.trim())
    .bind(SuggestionState::Proposed.as_str())
    .bind(proposer)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    for case_id in &ids {
        sqlx::query(
            "INSERT INTO fallback_suggestion_cases (suggestion_id, case_id) VALUES ($1, $2)",
        )
        .bind(id)
        .bind(*case_id)
        .execute(&mut *conn)
        .await?;
    }
    audit::append(
        conn,
        change,
        "fallback.suggestion.create",
        "fallback_suggestion",
        &id.to_string(),
        &json!({ "title": title.trim(), "case_ids": ids }),
    )
    .await?;
    suggestion(&mut *conn, id).await
}

/// A case concluded 转政策建议 becomes a suggestion citing it (the lead's conclusion step
/// calls this in its transaction). Returns the suggestion's id.
pub async fn propose_from_case(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    title: &str,
    content: &str,
) -> Result<i64> {
    Ok(create_suggestion(conn, change, title, content, &[case_id])
        .await?
        .id)
}

/// Moves a suggestion a step (into study, adopted, rejected) under the domain's rule; a
/// decision bumps `SuggestionsDecided` (and `SuggestionsAdopted`) of the suggestion's
/// organisation on the Beijing day it is recorded. `version` (if given) must match.
pub async fn decide_suggestion(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: Option<i64>,
    d: &Decision,
) -> Result<Suggestion> {
    let mut errors = FieldErrors::new();
    for (field, label, value, limit) in [
        (
            "deciding_body",
            "决定机关",
            d.deciding_body.as_str(),
            rules::DECIDING_BODY,
        ),
        ("note", "说明", d.note.as_str(), rules::DECISION_NOTE),
    ] {
        if let Err(e) = check_text(field, label, value, limit) {
            errors.0.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let lock = change.backend.for_update();
    sqlx::query(&format!(
        "SELECT id FROM fallback_suggestions WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let s = suggestion(&mut *conn, id).await?;
    if version.is_some_and(|v| v != s.version) {
        return Err(StoreError::version_conflict("该建议"));
    }
    let today = crate::clock::local_date(change.at);
    let proposed_on = crate::clock::local_date(s.proposed_at);
    let to = rules::decide(s.state, d, proposed_on, today).map_err(|e| {
        if e.is_conflict() {
            StoreError::Conflict {
                code: "wrong_state",
                message: e.to_string(),
            }
        } else {
            StoreError::invalid(e.field(), e.code(), e.to_string())
        }
    })?;
    let text = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
    let changed = sqlx::query(
        "UPDATE fallback_suggestions SET state = $1, deciding_body = COALESCE($2, deciding_body), \
         decided_on = $3, decision_note = COALESCE($4, decision_note), version = version + 1 \
         WHERE id = $5 AND version = $6",
    )
    .bind(to.as_str())
    .bind(text(&d.deciding_body))
    .bind(
        to.is_decided()
            .then(|| d.decided_on.map(|x| x.to_string()))
            .flatten(),
    )
    .bind(text(&d.note))
    .bind(id)
    .bind(s.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该建议")?;
    if to.is_decided() {
        let day = today.to_string();
        rollup::bump(
            conn,
            Dim::Org(s.org_id),
            &day,
            Metric::SuggestionsDecided,
            1,
        )
        .await?;
        if to == SuggestionState::Adopted {
            rollup::bump(
                conn,
                Dim::Org(s.org_id),
                &day,
                Metric::SuggestionsAdopted,
                1,
            )
            .await?;
        }
    }
    audit::append(
        conn,
        change,
        "fallback.suggestion.decide",
        "fallback_suggestion",
        &id.to_string(),
        &json!({ "from": s.state.as_str(), "to": to.as_str(),
                 "deciding_body": d.deciding_body.trim(),
                 "decided_on": d.decided_on.map(|x| x.to_string()),
                 "note": d.note.trim() }),
    )
    .await?;
    suggestion(&mut *conn, id).await
}

// ---- demo ---------------------------------------------------------------------------------------

/// A plausible fallback problem for the demo, as the demo's case loop should take it in and
/// file it (the texts carry the personal data the library removes).
#[derive(Debug, Clone, Copy)]
pub struct DemoCase {
    pub title: &'static str,
    pub description: &'static str,
    pub conclusion: &'static str,
    pub outcome: Outcome,
    pub tags: &'static [&'static str],
    pub person_name: &'static str,
    pub person_phone: &'static str,
    pub company_name: &'static str,
}

/// Five filed cases for the demo: four enter the library, the last (转政策建议) does not.
pub const DEMO_CASES: [DemoCase; 5] = [
    DemoCase {
        title: "老旧小区加装电梯审批多头跑",
        description: "刘桂兰（电话13911112222）反映：幸福路8号院2栋老旧小区想加装电梯，规划说要先有住建意见，\
                      住建说要先有规划许可，市场监管要求先定设备单位，跑了4个月没有结果。",
        conclusion: "窗口召开联席会议，明确由区住建局牵头并联审批，规划部门出具不需办理工程规划许可的意见，\
                     市场监管同步办理使用登记，电梯已开工安装。",
        outcome: Outcome::Solved,
        tags: &["部门职责交叉", "流程梗阻"],
        person_name: "刘桂兰",
        person_phone: "13911112222",
        company_name: "",
    },
    DemoCase {
        title: "企业跨区迁移税务登记迁不出来",
        description: "示范市恒通物流有限公司（法人王建国，电话13833334444）从外区迁入本区，原税务机关要求先清税，\
                      清税又要求先注销原经营场所备案，两边互为前置。",
        conclusion: "协调区税务局、区市场监管局按容缺办理：先办迁入登记，承诺期内补办备案，税务登记迁移当天完成。",
        outcome: Outcome::Solved,
        tags: &["部门职责交叉", "政策不明确"],
        person_name: "王建国",
        person_phone: "13833334444",
        company_name: "示范市恒通物流有限公司",
    },
    DemoCase {
        title: "历史遗留集资房办不了房产证",
        description: "陈秀英（身份证110105195503120026）反映：九十年代单位集资建房，开发单位已注销，\
                      和平里5号楼住户二十多年办不下房产证，涉及不动产登记、住建、税务。",
        conclusion: "依据历史遗留问题处置办法分类处理：住建出具竣工认定意见，住户补缴契税后由不动产登记中心办证，\
                     首批32户已领证，其余分批办理。",
        outcome: Outcome::PartlySolved,
        tags: &["历史遗留问题"],
        person_name: "陈秀英",
        person_phone: "13755556666",
        company_name: "",
    },
    DemoCase {
        title: "残疾人两项补贴跨区转移断档",
        description: "赵明（电话13677778888）户籍迁入本区后，原区已停发补贴，本区要求原区出具停发证明才能受理，\
                      三个月没有领到补贴。",
        conclusion: "协调区民政局、区残联通过系统核验停发信息，不再要求纸质证明，补发三个月补贴。",
        outcome: Outcome::Solved,
        tags: &["流程梗阻"],
        person_name: "赵明",
        person_phone: "13677778888",
        company_name: "",
    },
    DemoCase {
        title: "小微餐饮店油烟净化标准不明确",
        description: "幸福街道多家小餐馆反映油烟排放检测标准城管和生态环境说法不一，整改无所适从。",
        conclusion: "现行标准对小微餐饮适用范围不明确，已转为政策建议。",
        outcome: Outcome::ToPolicy,
        tags: &["政策不明确"],
        person_name: "孙丽",
        person_phone: "13599990000",
        company_name: "幸福小厨餐饮店",
    },
];

/// The demo's library and suggestions: indexes the filed cases `case_ids` (made from
/// [`DEMO_CASES`], in order; those not solved are skipped) and records four suggestions
/// citing them — one proposed, one under study, one adopted, one rejected — proposed by
/// `officer`, studied and decided by `supervisor` (both changes name a user). Returns the
/// suggestions' ids.
pub async fn seed_demo(
    conn: &mut AnyConnection,
    officer: &Change,
    supervisor: &Change,
    case_ids: &[i64],
) -> Result<Vec<i64>> {
    for id in case_ids {
        index_case(conn, officer, *id).await?;
    }
    let Some(&first) = case_ids.first() else {
        return Ok(vec![]);
    };
    let pick = |i: usize| case_ids.get(i).copied().unwrap_or(first);
    let today = crate::clock::local_date(supervisor.at);
    let plans: [(&str, &str, Vec<i64>, Option<Decision>); 4] = [
        (
            "老旧小区加装电梯实行并联审批",
            "建议出台老旧小区加装电梯并联审批办法，明确住建牵头、规划免办工程规划许可、市场监管同步登记。",
            vec![pick(0)],
            Some(Decision {
                to: SuggestionState::Adopted,
                deciding_body: "区人民政府常务会议".into(),
                decided_on: Some(today),
                note: "已印发《老旧小区加装电梯并联审批工作办法》。".into(),
            }),
        ),
        (
            "企业跨区迁移清税与备案互为前置的处理",
            "建议明确企业跨区迁移可先办迁入登记、承诺期内补办备案，税务迁移不以原场所备案注销为前提。",
            vec![pick(1)],
            Some(Decision {
                to: SuggestionState::Rejected,
                deciding_body: "区税务局".into(),
                decided_on: Some(today),
                note: "上级已出台跨区迁移便利化规定，按现行规定执行，不再另行制定。".into(),
            }),
        ),
        (
            "历史遗留集资房办证分类处置",
            "建议由区住建局会同不动产登记中心制定历史遗留集资房办证分类处置细则。",
            vec![pick(2)],
            Some(Decision {
                to: SuggestionState::UnderStudy,
                deciding_body: "区住房和城乡建设局".into(),
                decided_on: None,
                note: "已列入本季度专题研究。".into(),
            }),
        ),
        (
            "明确小微餐饮油烟排放适用标准",
            "建议由区城市管理局会同生态环境部门明确小微餐饮油烟排放检测适用标准和整改指引。",
            vec![pick(4)],
            None,
        ),
    ];
    let mut out = Vec::new();
    for (title, content, cases, decision) in plans {
        let s = create_suggestion(conn, officer, title, content, &cases).await?;
        if let Some(d) = decision {
            if d.to.is_decided() {
                let study = Decision {
                    to: SuggestionState::UnderStudy,
                    deciding_body: String::new(),
                    decided_on: None,
                    note: String::new(),
                };
                decide_suggestion(conn, supervisor, s.id, None, &study).await?;
            }
            decide_suggestion(conn, supervisor, s.id, None, &d).await?;
        }
        out.push(s.id);
    }
    Ok(out)
}
