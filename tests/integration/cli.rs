//! Exit codes and messages (`docs/configuration.md`): bad arguments → 2 naming the flag; the listen address
//! in use → 1 naming the address; `--once` → 0; SIGTERM → 0.

use std::io::Write;

use crate::support::*;

#[test]
fn bad_arguments_exit_2_naming_the_flag() {
    let cases: [(&[&str], &str); 13] = [
        (&["--csv", "x", "--bogus"], "--bogus"),
        (
            &["--csv", "x", "--max-endpoints", "many"],
            "--max-endpoints",
        ),
        (&["--csv", "x", "--poll-interval", "0s"], "--poll-interval"),
        (&["--csv", "x", "--metrics", "seed,fancy"], "--metrics"),
        (
            &["--csv", "x", "--web.listen-address", "nowhere"],
            "--web.listen-address",
        ),
        (&["--csv", "x", "--buckets", "1,0.5"], "--buckets"),
        (&["--csv", "x", "--log.format", "xml"], "--log.format"),
        // No input is no error (the drop-in rule polls http://localhost:8089; webui_live.rs);
        // a bad value for any of the size and duration flags is.
        (
            &["--csv", "x", "--web.max-response-bytes", "lots"],
            "--web.max-response-bytes",
        ),
        (
            &["--csv", "x", "--csv.vanished-after", "soon"],
            "--csv.vanished-after",
        ),
        (
            &[
                "--otlp.listen-address",
                "127.0.0.1:0",
                "--otlp.max-message-bytes",
                "0",
            ],
            "--otlp.max-message-bytes",
        ),
        (
            &[
                "--otlp.listen-address",
                "127.0.0.1:0",
                "--otlp.max-message-bytes",
                "2GiB",
            ],
            "--otlp.max-message-bytes",
        ),
        (
            &["--csv", "x", "--otlp.max-message-bytes", "1MiB"],
            "--otlp.max-message-bytes",
        ),
        (
            &[
                "--otlp.listen-address",
                "127.0.0.1:0",
                "--otlp.requests-from",
                "logs",
            ],
            "--otlp.requests-from",
        ),
    ];
    for (args, flag) in cases {
        let (code, _, err) = run(args, None);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(flag),
            "{args:?}: the message names {flag}: {err}"
        );
    }
}

#[test]
fn address_in_use_exits_1_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(&["--csv", "x", "--web.listen-address", &addr], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&addr), "{err}");
}

#[test]
fn sigterm_exits_0() {
    let ex = Exporter::spawn(&["--csv", "does/not/exist/yet"]);
    ex.wait_for(5, "state missing", |m| {
        m.get("locust_state", &[("state", "missing")]) == Some(1.0)
    });
    assert_eq!(ex.terminate(), Some(0));
}

#[test]
fn once_prints_and_exits_0() {
    let (code, out, err) = run(
        &[
            "--once",
            "--csv",
            "fixtures/locust-2.47.0/standalone-full-history/run",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    let m = Metrics::parse(&out);
    assert!(
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .unwrap()
            > 0.0
    );
}

/// `--once` with nothing to read fails, naming what was empty, so `--once | push` in CI
/// cannot go green on a mistyped path.
#[test]
fn once_with_nothing_to_read_exits_1_naming_the_path() {
    for args in [
        &["--once", "--csv", "nothing/here"][..],
        &["--once", "--events", "nothing/here.jsonl"],
        &[
            "--once",
            "--csv",
            "fixtures/locust-2.47.0/standalone-full-history/run",
            "--csv",
            "nothing/here",
        ],
    ] {
        let (code, out, err) = run(args, None);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("nothing to read at nothing/here"),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "nothing printed: {out}");
    }
    let (code, _, err) = run(&["--once", "--events", "-"], Some(b""));
    assert_eq!(code, Some(1));
    assert!(err.contains("standard input"), "{err}");
}

/// A web config that cannot be used stops the start with exit code 2, naming the file's
/// line or the certificate file that does not load — and stops `--once` the same way (it
/// reads every file the server reads).
#[test]
fn web_config_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    let cases = [
        ("tls_server_config:\n  cert_file: a.pem\n", "line 1"),
        ("basic_auth_users:\n  prom: plain-text\n", "line 2"),
        (
            "basic_auth_users:\n  alice: $2y$10$abc\n",
            "line 2: user `alice`: the password is not a valid bcrypt hash",
        ),
        ("http_server_config:\n  keep_alive: 5\n", "line 2"),
        ("basic_auth_users: [unclosed\n", "--web.config.file"),
        (
            "basic_auth_users:\n  a: $2b$04$K3jgqzDuoRcWwsfhQTDS9eWSQQYTl9IqX.bZrRhKGdJ81BxF6tFQ2\n  a: $2b$04$K3jgqzDuoRcWwsfhQTDS9eWSQQYTl9IqX.bZrRhKGdJ81BxF6tFQ2\n",
            "line 3",
        ),
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n",
            "missing.pem",
        ),
    ];
    for (content, named) in cases {
        std::fs::write(&cfg, content).unwrap();
        let args = [
            "--csv",
            "x",
            "--web.config.file",
            cfg.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ];
        let (code, _, err) = run(&args, None);
        assert_eq!(code, Some(2), "{content}: {err}");
        assert!(
            err.contains("--web.config.file") && err.contains(named),
            "{content}: {err}"
        );
        let csv = fixture("locust-2.47.0/standalone-full-history/run");
        let once = [
            "--once",
            "--csv",
            csv.to_str().unwrap(),
            "--web.config.file",
            cfg.to_str().unwrap(),
        ];
        let (code, _, once_err) = run(&once, None);
        assert_eq!(code, Some(2), "--once, {content}: {once_err}");
        assert!(
            once_err.contains("--web.config.file") && once_err.contains(named),
            "--once, {content}: {once_err}"
        );
    }
    let missing = dir.path().join("nope.yml");
    let csv = fixture("locust-2.47.0/standalone-full-history/run");
    let (code, _, err) = run(
        &[
            "--once",
            "--csv",
            csv.to_str().unwrap(),
            "--web.config.file",
            missing.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nope.yml"), "{err}");
}

/// A user with no password hash (`prom:` alone: YAML null) once turned authentication off;
/// a 906-byte file of nested aliases once took the process past 5 GB. Both are refused at
/// start with exit 2 naming their line — the bomb within a second, in a process capped at
/// 300 MB of address space.
#[test]
fn settings_files_refuse_a_user_without_a_hash_and_an_alias_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    let hash = "$2b$04$K3jgqzDuoRcWwsfhQTDS9eWSQQYTl9IqX.bZrRhKGdJ81BxF6tFQ2";
    let mut bomb = String::from("a: &a {x: 1, y: 1, z: 1, w: 1, v: 1, u: 1, t: 1, s: 1, r: 1}\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for w in names.windows(2) {
        let nine: Vec<String> = (1..=9).map(|k| format!("k{k}: *{}", w[0])).collect();
        bomb.push_str(&format!("{}: &{} {{{}}}\n", w[1], w[1], nine.join(", ")));
    }
    bomb.push_str("basic_auth_users: *j\n");
    assert!(bomb.len() < 1000, "{}", bomb.len());
    let cases = [
        (
            format!("basic_auth_users:\n  alice: {hash}\n  prom:\n"),
            "line 3: user `prom` has no password hash",
        ),
        (bomb, "aliases expand the file past 10000 values"),
    ];
    for (content, named) in cases {
        std::fs::write(&cfg, &content).unwrap();
        let started = std::time::Instant::now();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 300000; exec '{}' --csv x --web.listen-address 127.0.0.1:0 --web.config.file '{}'",
                bin().display(),
                cfg.display()
            ))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{content}: {err}");
        assert!(err.contains(named), "{content}: {err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
}

/// `--exit-after-stop` does not wait forever for a run that never shows up (a wrong path, a
/// Locust that crashed at start): after `--exit-after-stop.wait` it exits with code 3,
/// naming why.
#[test]
fn exit_after_stop_gives_up_when_no_input_ever_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("never/run");
    let started = std::time::Instant::now();
    let (code, _, err) = run(
        &[
            "--csv",
            missing.to_str().unwrap(),
            "--exit-after-stop",
            "1s",
            "--exit-after-stop.wait",
            "1s",
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        None,
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no input gave any data within 1s"), "{err}");
    // Said once at the start, naming the path.
    let waiting = format!("Nothing at {} yet: waiting for it", missing.display());
    assert_eq!(err.matches(&waiting).count(), 1, "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// With no input flag the exporter polls Locust's web UI at localhost:8089, as the Go
/// exporter did: said as a warning, with how to read something else.
#[test]
fn no_input_flag_warns_that_it_polls_localhost() {
    let ex = Exporter::spawn(&[]);
    let log = ex.stderr().join("\n");
    assert!(
        log.contains("WARN")
            && log.contains("No input flag")
            && log.contains("http://localhost:8089"), // not bound: what the log says
        "{log}"
    );
    assert!(log.contains("give an input flag"), "{log}");
}

/// `--version` names the revision and the commit date it was built from.
#[test]
fn version_names_the_revision_and_its_date() {
    let (code, out, _) = run(&["--version"], None);
    assert_eq!(code, Some(0));
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .expect("git runs (the tests run in a checkout)");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let expected = format!(
        "locust-exporter {} (revision {head}, ",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        out.starts_with(&expected),
        "{out:?} does not start with {expected:?}"
    );
    let date = out
        .trim()
        .trim_end_matches(')')
        .rsplit(", ")
        .next()
        .unwrap_or_default();
    assert_eq!(date.len(), 10, "a YYYY-MM-DD date: {out:?}");
}

/// `--once` judges what it read: every check passing exits 0, a failing one 99 (the summary
/// on stderr names it), the checks served as metrics; a malformed check is refused at start
/// (exit 2) with the position of the mistake.
#[test]
fn once_judges_checks_with_exit_codes_0_99_and_2() {
    let csv = "fixtures/locust-2.47.0/standalone-full-history/run";
    let (code, out, err) = run(
        &[
            "--once",
            "--csv",
            csv,
            "--check",
            "requests>=100",
            "--check",
            r#"p95{name="/big"}<1s"#,
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("verdict: PASSED: all 2 checks passed"),
        "{err}"
    );
    let m = Metrics::parse(&out);
    assert_eq!(
        m.get("locust_check_passing", &[("check", "requests>=100")]),
        Some(1.0)
    );
    // The /big row of the file: its 95 % column, 6 ms.
    assert_eq!(
        m.get(
            "locust_check_value",
            &[("check", r#"p95{name="/big"}<1s"#), ("name", "/big")]
        ),
        Some(0.006)
    );
    assert_eq!(
        m.get(
            "locust_check_threshold",
            &[("check", r#"p95{name="/big"}<1s"#)]
        ),
        Some(1.0)
    );

    let (code, out, err) = run(
        &[
            "--once",
            "--csv",
            csv,
            "--check",
            r#"max{name="/"}<10ms"#,
            "--check",
            "p97<1s",
            "--run.id",
            "ci-42",
        ],
        None,
    );
    assert_eq!(code, Some(99), "{err}");
    assert!(
        err.contains(r#"FAIL    max{name="/"}<10ms  locust GET /: 29.42ms (counted)"#),
        "{err}"
    );
    assert!(
        err.contains("NO DATA p97<1s  locust total: no data: the input has no such percentile"),
        "{err}"
    );
    assert!(
        err.contains("verdict: FAILED: 2 of 2 checks failed (exit code 99)"),
        "{err}"
    );
    let m = Metrics::parse(&out);
    assert_eq!(
        m.get(
            "locust_check_passing",
            &[("check", r#"max{name="/"}<10ms"#), ("run", "ci-42")]
        ),
        Some(0.0)
    );
    for s in &m.samples {
        assert_eq!(
            s.labels.get("run").map(String::as_str),
            Some("ci-42"),
            "{s:?}"
        );
    }

    let (code, _, err) = run(
        &["--once", "--csv", csv, "--check", "p95{name=/x}<1s"],
        None,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--check: expected a quoted value at position 10 of `p95{name=/x}<1s`"),
        "{err}"
    );
    assert!(
        err.contains("\n  p95{name=/x}<1s\n           ^"),
        "a caret under the mistake: {err}"
    );
}

/// SIGTERM while the run is still live judges nothing: exit 0, "NOT JUDGED", JUnit cases
/// skipped.
#[test]
fn sigterm_mid_run_judges_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("j.xml");
    let ex = Exporter::spawn_with_stdin(&[
        "--events",
        "-",
        "--check",
        "requests>=1000000",
        "--junit.file",
        junit.to_str().unwrap(),
    ]);
    let mut ex = ex;
    let mut stdin = ex.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"event":"request","request_type":"GET","name":"/a","response_time":5,"response_length":1,"exception":null}}"#
    )
    .unwrap();
    ex.wait_for(5, "running", |m| {
        m.get("locust_check_passing", &[("check", "requests>=1000000")]) == Some(0.0)
    });
    let (code, log) = ex.terminate_logged();
    let log = log.join("\n");
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("verdict: NOT JUDGED"), "{log}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
    drop(stdin);
}
