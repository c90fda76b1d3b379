//! The house's structure, drawn from the code's own imports and checked: no circle between
//! files, no import running back up the floors below, at most six floors. The crate docs
//! (`src/lib.rs`) draw the same floors and list the files that spawn tasks; this test is
//! what keeps both true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, bottom up: a module may import only from floors below its own (and from
/// itself).
const FLOORS: [&[&str]; 6] = [
    &["model", "support"],
    &["parse", "expose", "serve"],
    &["source", "output"],
    &["ingest", "config"],
    &["app"],
    &["main"],
];

/// Every `.rs` file under `src/` but test modules, as (module path, code without comments
/// and without its `#[cfg(test)]` tail).
fn sources() -> BTreeMap<Vec<String>, (PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".rs") || name == "tests.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            out.insert(module, (path, code));
        }
    }
    out
}

/// The module paths named after `crate::`, `super::` or (in a folder's door) a child's
/// name, resolved against the modules that exist.
fn imports(
    module: &[String],
    code: &str,
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let resolve = |path: Vec<String>| -> Option<Vec<String>> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let is_door = modules
        .iter()
        .any(|m| m.len() == module.len() + 1 && m.starts_with(module));
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !ident(bytes[i - 1]);
        let Some(rest) = code.get(i..) else {
            i += 1;
            continue;
        };
        let (base, skip): (Option<Vec<String>>, usize) =
            if word_start && rest.starts_with("crate::") {
                (Some(Vec::new()), 7)
            } else if word_start && rest.starts_with("super::") {
                (module.split_last().map(|(_, p)| p.to_vec()), 7)
            } else if word_start
                && is_door
                && (rest.starts_with("use ") || rest.starts_with("pub use "))
            {
                let after = rest.trim_start_matches("pub ").trim_start_matches("use ");
                let name: String = after
                    .bytes()
                    .take_while(|&c| ident(c))
                    .map(char::from)
                    .collect();
                let mut child = module.to_vec();
                child.push(name);
                (
                    modules.contains(&child).then_some(module.to_vec()),
                    rest.len() - after.len(),
                )
            } else {
                (None, 1)
            };
        i += skip;
        let Some(base) = base else { continue };
        // The path after the prefix: `a::b::C`, or a group `{a::B, c}`.
        let tail: String = code[i..]
            .chars()
            .take_while(|c| {
                c.is_alphanumeric() || matches!(c, '_' | ':' | '{' | '}' | ',' | ' ' | '\n')
            })
            .collect();
        let tail = tail.split(';').next().unwrap_or_default();
        let (head, group) = match tail.split_once('{') {
            Some((h, g)) => (h, g.split('}').next().unwrap_or_default()),
            None => (tail, ""),
        };
        let head: Vec<String> = head
            .split("::")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect();
        // `use a::{b, c}` imports `a::b` and `a::c`, not `a` itself.
        let mut paths = if group.is_empty() {
            vec![head.clone()]
        } else {
            Vec::new()
        };
        for item in group.split(',').filter(|i| !i.trim().is_empty()) {
            let mut p = head.clone();
            p.extend(
                item.split("::")
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
            );
            paths.push(p);
        }
        for p in paths {
            let mut full = base.clone();
            full.extend(p);
            if let Some(target) = resolve(full) {
                if target != module {
                    found.insert(target);
                }
            }
        }
    }
    found
}

fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = sources();
    let modules: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(m, (_, code))| {
            let mut to = imports(m, code, &modules);
            if m.first().is_some_and(|f| f == "main") {
                // main.rs reaches the library as `locust_exporter::…`.
                to.extend(
                    code.match_indices("locust_exporter::")
                        .filter_map(|(i, _)| {
                            let name: String = code[i + 17..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            modules.contains(&vec![name.clone()]).then(|| vec![name])
                        }),
                );
            }
            (m.clone(), to)
        })
        .collect()
}

fn floor(module: &[String]) -> usize {
    let top = module.first().map_or("lib", String::as_str);
    FLOORS
        .iter()
        .position(|f| f.contains(&top))
        .unwrap_or_else(|| panic!("`{top}` is on no floor: add it to FLOORS (and the crate docs)"))
}

#[test]
fn no_file_imports_a_floor_above_its_own() {
    let g = graph();
    assert!(g.len() > 50, "the walk found only {} files", g.len());
    let mut ups = Vec::new();
    for (from, targets) in &g {
        if from.is_empty() {
            continue; // lib.rs declares the modules
        }
        for to in targets {
            if to.is_empty() {
                continue;
            }
            if floor(to) > floor(from) || (floor(to) == floor(from) && to[0] != from[0]) {
                ups.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        ups.is_empty(),
        "imports running up or across a floor:\n{}",
        ups.join("\n")
    );
}

#[test]
fn no_circle_between_files() {
    let g = graph();
    // Depth-first search for a back edge, reporting the circle it closes.
    fn visit(
        node: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in g.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == next).unwrap_or(0);
                    return Some(stack[at..].to_vec());
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, g, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(edges > 100, "the walk found only {edges} imports");
    for node in g.keys() {
        if !state.contains_key(node) {
            let circle = visit(node, &g, &mut state, &mut Vec::new());
            assert!(
                circle.is_none(),
                "a circle: {}",
                circle
                    .unwrap_or_default()
                    .iter()
                    .map(|m| m.join("::"))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            );
        }
    }
}

/// The files the crate docs say spawn tasks: the backticked `*.rs` paths of the list that
/// follows "Tasks are spawned" in `src/lib.rs`.
fn spawn_sites_in_the_docs() -> BTreeSet<String> {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let section = lib
        .split("Tasks are spawned")
        .nth(1)
        .expect("src/lib.rs lists where tasks are spawned");
    let mut files = BTreeSet::new();
    for line in section.lines().skip(1) {
        let Some(item) = line.strip_prefix("//! - `") else {
            if files.is_empty() || line.starts_with("//!   ") {
                continue; // the list's lead-in, or an item's continuation
            }
            break;
        };
        let file = item.split('`').next().unwrap_or_default();
        assert!(file.ends_with(".rs"), "not a file: {file}");
        files.insert(file.to_owned());
    }
    files
}

/// Where the code spawns: every file under `src/` whose code (comments and test modules
/// left out) calls `tokio::spawn`, `spawn_blocking` or a `JoinSet`'s `spawn`.
fn spawn_sites_in_the_code() -> BTreeSet<String> {
    sources()
        .values()
        .filter(|(_, code)| {
            code.contains("tokio::spawn(")
                || code.contains("spawn_blocking(")
                || (code.contains("JoinSet") && code.contains(".spawn("))
        })
        .map(|(path, _)| {
            path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The crate docs' list of the files that spawn tasks is the code's, both ways: a new
/// spawn site is added to the list, and a file that no longer spawns leaves it.
#[test]
fn tasks_are_spawned_only_where_the_crate_docs_say() {
    let docs = spawn_sites_in_the_docs();
    let code = spawn_sites_in_the_code();
    assert!(code.len() >= 5, "the walk found only {code:?}");
    assert!(
        code.contains("app/mod.rs"),
        "the check sees app/mod.rs spawn: {code:?}"
    );
    let undocumented: Vec<_> = code.difference(&docs).collect();
    let stale: Vec<_> = docs.difference(&code).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "spawning but not in src/lib.rs's list: {undocumented:?}; listed but not spawning: {stale:?}"
    );
}

/// The check itself can fail: a made-up import from the model to the HTTP layer is found.
#[test]
fn the_walk_sees_an_import_running_up() {
    let files = sources();
    let modules: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    let from = vec!["model".to_owned(), "service".to_owned()];
    let found = imports(
        &from,
        "use crate::output::http::{self, HttpState};\n",
        &modules,
    );
    assert!(
        found.contains(&vec!["output".to_owned(), "http".to_owned()]),
        "{found:?}"
    );
    assert!(floor(&["output".to_owned()]) > floor(&from));
    let door = vec!["parse".to_owned()];
    let found = imports(&door, "pub use types::{Item, ParseError};\n", &modules);
    assert!(
        found.contains(&vec!["parse".to_owned(), "types".to_owned()]),
        "{found:?}"
    );
}

/// No test binds a fixed port: every server a test starts listens on an ephemeral one
/// (`127.0.0.1:0`, or a port `free_addr` found), so tests never collide with each other, with
/// an exporter a person left running, or with CI's neighbours. A socket address with a
/// port in a test's code is allowed only on a line that says why it is never bound
/// (`// not bound: …`).
#[test]
fn no_test_binds_a_fixed_port() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    let mut files = vec![];
    let mut dirs = vec![dir];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 10, "the test files were found");
    let mut fixed = Vec::new();
    for f in &files {
        if f.ends_with("structure.rs") {
            continue;
        }
        for (i, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") || line.contains("// not bound:") {
                continue;
            }
            for host in ["127.0.0.1:", "0.0.0.0:", "localhost:", "[::1]:"] {
                let mut rest = line;
                while let Some(at) = rest.find(host) {
                    let after = &rest[at + host.len()..];
                    let port: String = after.chars().take_while(char::is_ascii_digit).collect();
                    if !port.is_empty() && port != "0" {
                        fixed.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                    }
                    rest = &rest[at + host.len()..];
                }
            }
        }
    }
    assert!(
        fixed.is_empty(),
        "fixed ports in tests:\n{}",
        fixed.join("\n")
    );
}

/// Code says what it does, not which issue asked for it: no issue numbers in the sources,
/// the tests or the benches (the notes and the history keep them).
#[test]
fn no_issue_numbers_in_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = ["src", "tests", "benches", "contrib", "fuzz/fuzz_targets"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "rs" || x == "py" || x == "sh")
            {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 50, "only {} files found", files.len());
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let lower = line.to_ascii_lowercase();
            let mut rest = lower.as_str();
            while let Some(at) = rest.find("issue") {
                let after = rest[at + 5..].trim_start_matches([' ', '#', 's']);
                if after.starts_with(|c: char| c.is_ascii_digit()) {
                    found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                    break;
                }
                rest = &rest[at + 5..];
            }
        }
    }
    assert!(
        found.is_empty(),
        "issue numbers in code:\n{}",
        found.join("\n")
    );
}
