//! Claims of ARCHITECTURE.md that a test can keep true: every Rust module of the workspace
//! (`crates/*/src/**/*.rs`, whatever folders a capability is split into) opens with a `//!`
//! doc comment that says what the module is, and the web layer (`crates/web`) runs no SQL.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Why a module's text does not open with a doc comment, or `None` when it does: the
/// first line that is not blank starts with `//!` and has words after it.
fn missing_module_doc(text: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        None => Some("the file is empty".into()),
        Some(first) => match first.strip_prefix("//!") {
            Some(rest) if !rest.trim().is_empty() => None,
            Some(_) => Some("the opening //! line is empty".into()),
            None => Some(format!("opens with “{first}” instead of a //! doc comment")),
        },
    }
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let root = workspace_root();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    assert!(crates.len() >= 4, "the workspace's crates: {crates:?}");
    let mut files = Vec::new();
    for src in &crates {
        rust_files(src, &mut files);
    }
    // The walk found the modules (not vacuously true): the four crate roots at least.
    for known in [
        "crates/domain/src/lib.rs",
        "crates/store/src/lib.rs",
        "crates/web/src/lib.rs",
        "crates/cli/src/main.rs",
        "crates/domain/src/calendar.rs",
    ] {
        assert!(files.contains(&root.join(known)), "{known} not found");
    }
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            missing_module_doc(&text)
                .map(|why| format!("{}: {why}", f.strip_prefix(&root).unwrap_or(f).display()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "every module opens with a //! comment saying what it is:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_tells_documented_modules_from_the_rest() {
    assert_eq!(missing_module_doc("//! Tickets.\n\nuse x;\n"), None);
    assert_eq!(missing_module_doc("\u{feff}\n\n//! Tickets.\n"), None);
    assert!(missing_module_doc("use x;\n//! late\n").is_some());
    assert!(missing_module_doc("/// an item doc, not a module doc\nfn f() {}\n").is_some());
    assert!(missing_module_doc("// a plain comment\n").is_some());
    assert!(missing_module_doc("//!\nuse x;\n").is_some());
    assert!(missing_module_doc("").is_some());
}

/// The SQL a line of Rust source runs or spells, if any: a sqlx query builder, or a string
/// literal opening with a statement keyword. The web layer asks the store; it never runs SQL.
fn sql_on_line(line: &str) -> Option<&'static str> {
    const BUILDERS: [&str; 5] = [
        "sqlx::query",
        "query_as(",
        "query_scalar(",
        "raw_sql(",
        ".execute(",
    ];
    const STATEMENTS: [&str; 7] = [
        "\"SELECT ",
        "\"INSERT ",
        "\"UPDATE ",
        "\"DELETE ",
        "\"WITH ",
        "\"CREATE ",
        "\"BEGIN",
    ];
    let code = line.split("//").next().unwrap_or("");
    BUILDERS.into_iter().chain(STATEMENTS).find(|needle| {
        code.to_ascii_uppercase()
            .contains(&needle.to_ascii_uppercase())
    })
}

#[test]
fn the_web_layer_runs_no_sql() {
    let web = workspace_root().join("crates/web/src");
    let mut files = Vec::new();
    rust_files(&web, &mut files);
    assert!(files.len() > 20, "the web crate's modules were found");
    let mut found = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(what) = sql_on_line(line) {
                let rel = path.strip_prefix(workspace_root()).unwrap().display();
                found.push(format!("{rel}:{}: {what}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "crates/web runs SQL (move it into an operation of crates/store):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_sql_check_finds_queries_and_statements() {
    assert!(sql_on_line(r#"sqlx::query("x").fetch_one(c)"#).is_some());
    assert!(sql_on_line(r#"let q = "SELECT id FROM cases";"#).is_some());
    assert!(sql_on_line(r#"let q = "insert into t values (1)";"#).is_some());
    assert!(sql_on_line("conn.execute(stmt)").is_some());
    assert_eq!(sql_on_line("// SELECT in a comment is prose"), None);
    assert_eq!(sql_on_line(r#"let s = "选择事项";"#), None);
    assert_eq!(
        sql_on_line("store_catalog::owner_of(conn, code).await?"),
        None
    );
}

/// Lines of `crates/web` outside `allowed` files that contain `needle`.
fn web_lines_with(needle: &str, allowed: &[&str]) -> Vec<String> {
    let web = workspace_root().join("crates/web/src");
    let mut files = Vec::new();
    rust_files(&web, &mut files);
    let mut found = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&web).unwrap().display().to_string();
        if allowed.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains(needle) {
                found.push(format!("crates/web/src/{rel}:{}", n + 1));
            }
        }
    }
    found
}

#[test]
fn a_refused_form_answers_422_through_the_one_helper() {
    // `pages::render_form` is the only place a form page becomes 422; `error.rs` maps
    // errors (problem+json and error pages) to their status.
    let by_hand = web_lines_with("UNPROCESSABLE_ENTITY", &["pages.rs", "error.rs"]);
    assert!(
        by_hand.is_empty(),
        "set 422 through pages::render_form:\n{}",
        by_hand.join("\n")
    );
}

/// The pages' Content-Security-Policy allows styles only from `/static/app.css`
/// (`style-src 'self'`): an inline `<style>` block or `style=` attribute would be dropped
/// by the browser and the page shown unstyled. So no template has one.
#[test]
fn no_template_carries_inline_styles() {
    let dir = workspace_root().join("crates/web/templates");
    let mut offenders = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("<style") || line.contains(" style=\"") {
                offenders.push(format!("{}:{}", path.display(), n + 1));
            }
        }
    }
    assert!(entries.len() > 20, "the check reads the templates");
    assert!(
        offenders.is_empty(),
        "inline styles (put them in app.css):\n{}",
        offenders.join("\n")
    );
}
