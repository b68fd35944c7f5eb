//! The host's modules import one way: no file reaches, through `crate::` or
//! `super::` paths or its own `mod` lines, a file that reaches back to it.
//! A child using its parent's own items is not a cycle; siblings reaching
//! each other through `super::` are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under src/: `deliver/mail/mod.rs` -> ["deliver", "mail"].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// Every path after `prefix` (`crate::`, `super::`) written in a file (in
/// `use` lines and inline), `use crate::x::{a, b}` giving `x::a` and `x::b`.
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    for (i, _) in text.match_indices(prefix) {
        if text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `sollecito_crate::`, `super::super::` (read from its first `super`)
        }
        let rest = &text[i + prefix.len()..];
        let path: String =
            rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{').collect();
        let (base, group) = match path.split_once('{') {
            Some((base, _)) => {
                let inside = &rest[base.len() + 1..];
                (base.trim_end_matches(':').to_string(), inside.split('}').next().unwrap_or_default().to_string())
            }
            None => (path.trim_end_matches(':').to_string(), String::new()),
        };
        let base: Vec<String> = base.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
        if group.is_empty() {
            out.push(base);
        } else {
            for item in group.split(',') {
                let mut p = base.clone();
                p.extend(item.trim().split("::").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
                out.push(p);
            }
        }
    }
    out
}

fn crate_paths(text: &str) -> Vec<Vec<String>> {
    paths_after(text, "crate::")
}

/// Every path a file in module `module` names, from the crate's root:
/// `crate::` ones as written, `super::` ones from the parent (`super::super::`
/// from the grandparent), and each `mod child;` as the child.
fn absolute_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = crate_paths(text);
    for path in paths_after(text, "super::") {
        let ups = 1 + path.iter().take_while(|p| *p == "super").count();
        let Some(base) = module.len().checked_sub(ups) else { continue };
        out.push(module[..base].iter().chain(path.iter().skip(ups - 1)).cloned().collect());
    }
    for line in text.lines().map(str::trim) {
        let line = line.strip_prefix("pub(crate) ").or_else(|| line.strip_prefix("pub ")).unwrap_or(line);
        if let Some(child) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) {
            out.push(module.iter().cloned().chain([child.to_string()]).collect());
        }
    }
    out
}

#[test]
fn no_module_reaches_back_to_one_that_reaches_it() {
    let src = root().join("host/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        // Tests inside a file may reach anywhere; only the code counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for path in absolute_paths(code, &from) {
            // The deepest module file the path names.
            let Some(to) = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| modules.contains(m)) else {
                continue;
            };
            // Into oneself or an ancestor (a parent's own items): not an arrow.
            if to.is_empty() || from.starts_with(&to) {
                continue;
            }
            edges.entry(from.clone()).or_default().insert(to);
        }
    }
    // Depth-first search for a path that comes back.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        done: &mut BTreeSet<Vec<String>>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some(stack[at..].iter().chain([node]).map(|m| m.join("::")).collect());
        }
        if !done.insert(node.clone()) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        let cycle = visit(node, &edges, &mut done, &mut vec![]);
        assert!(cycle.is_none(), "an import cycle: {}", cycle.unwrap().join(" -> "));
    }
    assert!(edges.len() > 20, "the host's modules were not read: {edges:?}");
}

#[test]
fn the_reader_sees_sibling_paths_and_mod_lines() {
    let module: Vec<String> = ["store", "events"].map(str::to_string).to_vec();
    let text = "use super::{actions, json};\nlet x = super::super::money::format_money(1);\nmod tests;";
    let as_text = |p: Vec<Vec<String>>| p.into_iter().map(|p| p.join("::")).collect::<Vec<_>>();
    assert_eq!(
        as_text(absolute_paths(text, &module)),
        ["store::actions", "store::json", "money::format_money", "store::events::tests"]
    );
}

#[test]
fn the_reader_sees_grouped_and_inline_paths() {
    let paths = crate_paths("use crate::store::{Scope, outbox_key};\nlet x = crate::money::format_money(1, \"EUR\");");
    assert_eq!(
        paths,
        [vec!["store", "Scope"], vec!["store", "outbox_key"], vec!["money", "format_money"]]
            .map(|p| p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    );
}

/// The names of a word in Rust code, outside comments (`//` to the end of a line).
fn code_mentions(text: &str, word: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.split("//").next().unwrap_or_default().contains(word))
        .map(|(n, _)| n + 1)
        .collect()
}

/// Only the sandbox knows the types generated for a contract version: the
/// rest of the host speaks its own (`decision`, `outgoing`), so a new
/// contract version is one more module in `sandbox/`, not a change everywhere.
#[test]
fn nothing_outside_the_sandbox_names_a_contract_version() {
    let src = root().join("host/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let sandbox = src.join("sandbox");
    let mut outside = vec![];
    for file in files.iter().filter(|f| !f.starts_with(&sandbox)) {
        let text = std::fs::read_to_string(file).unwrap();
        for version in ["v0_1", "v0_2", "v0_3"] {
            for line in code_mentions(&text, version) {
                outside.push(format!("{}:{line}", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(outside.is_empty(), "generated contract types named outside sandbox/: {outside:?}");
    // The check itself sees a mention, and not one in a comment.
    assert_eq!(code_mentions("use crate::sandbox::v0_1::Action;\n// v0_1 in words\n", "v0_1"), [1]);
}

/// Files stay small enough to read in one sitting.
#[test]
fn every_host_file_stays_under_about_600_lines() {
    let src = root().join("host/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).unwrap().lines().count();
            (lines > 620).then(|| format!("{} ({lines} lines)", f.strip_prefix(&src).unwrap().display()))
        })
        .collect();
    assert!(long.is_empty(), "{long:?}");
}

/// Each function's length in lines, with its file and first line: from its
/// `fn` to the closing brace at the same indentation (rustfmt's layout).
fn function_lengths(text: &str) -> Vec<(usize, usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let indent = line.len() - code.len();
        let head = code.trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ").trim_start_matches("pub ");
        let head = head.trim_start_matches("async ").trim_start_matches("const ");
        let Some(name) = head.strip_prefix("fn ") else { continue };
        if line.trim_end().ends_with(';') {
            continue; // a trait's declaration
        }
        let closing = lines[i + 1..]
            .iter()
            .position(|l| l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}'));
        if let Some(n) = closing {
            let name = name.split(['(', '<']).next().unwrap_or_default().to_string();
            out.push((n + 2, i + 1, name));
        }
    }
    out
}

/// A function a reader cannot hold in view is split where a name helps.
#[test]
fn no_host_function_runs_over_a_hundred_lines() {
    let src = root().join("host/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut long = vec![];
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (length, line, name) in function_lengths(&text) {
            if length > 100 {
                long.push(format!("{}:{line} {name} ({length} lines)", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(long.is_empty(), "{long:?}");
    let sample = "fn short() {\n    one();\n}\n\n    pub(crate) async fn nested(x: u8) -> u8 {\n        x\n    }\n";
    assert_eq!(function_lengths(sample), [(3, 1, "short".into()), (3, 5, "nested".into())]);
}

/// Payloads are read as types (`store::Payload`), never matched as JSON text.
#[test]
fn no_query_matches_a_payload_as_text() {
    let src = root().join("host/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let matched: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let name = f.strip_prefix(&src).unwrap().display().to_string();
            code_mentions(&text, "payload LIKE")
                .into_iter()
                .chain(code_mentions(&text, "payload NOT LIKE"))
                .map(move |n| format!("{name}:{n}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(matched.is_empty(), "{matched:?}");
}
