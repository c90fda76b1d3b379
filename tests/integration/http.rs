//! HTTP (`docs/operating.md`): routes, content types, health and readiness, the landing page, a custom
//! telemetry path, basic auth from `--web.config.file`, process metrics.

use base64::Engine as _;

use crate::support::*;

#[test]
fn routes_and_content_types() {
    let ex = Exporter::spawn(&[
        "--csv",
        "fixtures/locust-2.47.0/standalone-full-history/run",
        "--web.telemetry-path",
        "/prom",
    ]);
    let (status, head, body) = ex.get("/prom");
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    let m = Metrics::parse(&body);
    assert_eq!(
        m.get(
            "locust_exporter_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert!(
        m.get("process_resident_memory_bytes", &[]).unwrap() > 0.0,
        "process metrics are served"
    );
    assert_eq!(ex.get("/metrics").0, 404, "the telemetry path moved");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while ex.get("/-/ready").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !ex.get("/").2.contains("run_stats.csv") {
        assert!(std::time::Instant::now() < deadline, "sources never listed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (status, head, body) = ex.get("/");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("text/html"));
    assert!(
        body.contains("href=\"/prom\"")
            && body.contains(env!("CARGO_PKG_VERSION"))
            && body.contains("run_stats.csv"),
        "{body}"
    );
    let (status, _, body) = ex.get("/-/healthy");
    assert_eq!((status, body.as_str()), (200, "Healthy\n"));
    assert_eq!(ex.get("/nope").0, 404);
    assert_promtool_clean(&ex.get("/prom").2);
}

#[test]
fn basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&cfg, format!("basic_auth_users:\n  prom: {hash}\n")).unwrap();
    let ex = Exporter::spawn(&["--csv", "x", "--web.config.file", cfg.to_str().unwrap()]);
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let (status, head, _) = http_get(ex.addr, "/metrics", None);
    assert_eq!(status, 401);
    assert!(
        head.to_lowercase().contains("www-authenticate: basic"),
        "{head}"
    );
    assert_eq!(
        http_get(ex.addr, "/metrics", Some(&basic("prom", "wrong"))).0,
        401
    );
    let (status, _, body) = http_get(ex.addr, "/metrics", Some(&basic("prom", "s3cret")));
    assert_eq!(status, 200);
    assert!(body.contains("locust_exporter_build_info"));
}

/// Basic auth through `--web.config.file` files that only a real YAML parser reads right:
/// the hash double-quoted with an escape (`\u0024` is `$`), and the users as a flow map.
#[test]
fn web_config_is_read_as_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let escaped = format!("\\u0024{}", &hash[1..]);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("prom:s3cret")
    );
    for (name, text) in [
        (
            "escaped.yml",
            format!("basic_auth_users:\n  prom: \"{escaped}\"\n"),
        ),
        (
            "flow.yml",
            format!("basic_auth_users: {{prom: '{hash}'}}\n"),
        ),
    ] {
        let cfg = dir.path().join(name);
        std::fs::write(&cfg, &text).unwrap();
        let ex = Exporter::spawn(&["--csv", "x", "--web.config.file", cfg.to_str().unwrap()]);
        assert_eq!(http_get(ex.addr, "/metrics", None).0, 401, "{name}: {text}");
        let (status, _, body) = http_get(ex.addr, "/metrics", Some(&basic));
        assert_eq!(status, 200, "{name}: {text}");
        assert!(body.contains("locust_exporter_build_info"), "{name}");
    }
}

/// A duplicate key in `--web.config.file` is refused at startup, naming the file and line.
#[test]
fn web_config_duplicate_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(
        &cfg,
        format!("basic_auth_users:\n  prom: '{hash}'\n  prom: '{hash}'\n"),
    )
    .unwrap();
    let (code, _, err) = run(
        &["--csv", "x", "--web.config.file", cfg.to_str().unwrap()],
        None,
    );
    assert_eq!(code, Some(2), "{err}");
    let expected = format!(
        "{}, line 3: duplicate key `prom` (first at line 2)",
        cfg.display()
    );
    assert!(err.contains(&expected), "{err}");
}

/// `tls_server_config` with a self-signed certificate made by the `openssl` command, fetched
/// with `curl` (both skip loudly where missing): HTTPS with basic auth works, plain HTTP
/// does not get metrics.
#[test]
fn tls_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .output();
    let curl = std::process::Command::new("curl").arg("--version").output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) || curl.is_err() {
        eprintln!("\n*** SKIPPED tls_with_basic_auth: needs the openssl and curl commands ***\n");
        return;
    }
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let cfg = dir.path().join("web.yml");
    // Relative paths are taken from the config file's directory.
    std::fs::write(&cfg, format!("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prom: {hash}\n")).unwrap();
    let ex = Exporter::spawn(&["--csv", "x", "--web.config.file", cfg.to_str().unwrap()]);
    let url = format!("https://{}/metrics", ex.addr);
    let fetch = |auth: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sk", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .args(auth)
            .arg(&url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ok = fetch(&["-u", "prom:s3cret"]);
    assert!(
        ok.ends_with("\n200") && ok.contains("locust_exporter_build_info"),
        "{ok}"
    );
    assert!(fetch(&[]).ends_with("\n401"));
    assert!(ex.stderr().iter().any(|l| l.contains("scheme=https")));
    // Plain HTTP to the TLS port: 400 and why, as the exporter toolkit answers.
    let (status, _, body) = http_get(ex.addr, "/metrics", None);
    assert_eq!(status, 400);
    assert_eq!(body, "Client sent an HTTP request to an HTTPS server.\n");
}

/// `--web.listen-address` is repeatable, as the exporter toolkit's is: every address serves
/// the same metrics.
#[test]
fn every_listen_address_serves() {
    let mut cmd = std::process::Command::new(bin());
    cmd.current_dir(root()).args([
        "--csv",
        "fixtures/locust-2.47.0/standalone-full-history/run",
        "--web.listen-address",
        "127.0.0.1:0",
        "--web.listen-address",
        "127.0.0.1:0",
    ]);
    let ex = Exporter::spawn_command(cmd);
    let listening = || -> Vec<std::net::SocketAddr> {
        ex.stderr()
            .iter()
            .filter(|l| l.contains("Listening."))
            .filter_map(|l| l.split("address=").nth(1)?.split(' ').next()?.parse().ok())
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while listening().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ex.wait_for(10, "the recording read", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")])
            .is_some()
    });
    let addresses = listening();
    assert_eq!(addresses.len(), 2, "{:?}", ex.stderr());
    assert_ne!(addresses[0], addresses[1]);
    for addr in addresses {
        let (status, _, body) = http_get(addr, "/metrics", None);
        assert_eq!(status, 200, "{addr}");
        assert!(body.contains("locust_stats_num_requests"), "{addr}");
    }
}

/// The settings files of `fixtures/web_config/`, against the exporter toolkit's own
/// validation (`promtool check web-config`, Prometheus 2.42): each `.good.yml` promtool
/// accepts and so do we, reading the values it says; each `.bad.yml` promtool refuses and
/// so do we. A new case is a file there.
#[test]
fn web_config_files_are_read_as_the_exporter_toolkit_reads_them() {
    if !have(
        "web_config_files_are_read_as_the_exporter_toolkit_reads_them",
        "promtool",
        "REQUIRE_PROMETHEUS",
        "prometheus",
    ) {
        return;
    }
    let h = "$2b$04$K3jgqzDuoRcWwsfhQTDS9eWSQQYTl9IqX.bZrRhKGdJ81BxF6tFQ2";
    let csp = "Content-Security-Policy";
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(fixture("web_config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let good = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".good.yml"))
        .count();
    let bad = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".bad.yml"))
        .count();
    assert!(good >= 10 && bad >= 10, "{good} good and {bad} bad files");
    assert_eq!(
        good + bad,
        files.len(),
        "every file is NAME.good.yml or NAME.bad.yml"
    );
    let mut disagree = Vec::new();
    let mut checked_values = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let (name, expect_good) = match file.strip_suffix(".good.yml") {
            Some(n) => (n.to_owned(), true),
            None => (file.trim_end_matches(".bad.yml").to_owned(), false),
        };
        let toolkit = std::process::Command::new("promtool")
            .args(["check", "web-config"])
            .arg(path)
            .output()
            .unwrap();
        let theirs = toolkit.status.success();
        let ours = locust_exporter::serve::web_config::WebConfig::load(path).and_then(|c| {
            // The toolkit opens the TLS files when it checks; so does our start.
            match &c.tls {
                Some(t) if !t.cert.exists() || !t.key.exists() => {
                    Err(locust_exporter::serve::web_config::WebConfigError::Read {
                        path: t.cert.display().to_string(),
                        message: "missing".into(),
                    })
                }
                _ => Ok(c),
            }
        });
        if theirs != expect_good || ours.is_ok() != expect_good {
            disagree.push(format!(
                "{file}: promtool {} ({}), we {}",
                if theirs { "accepts" } else { "refuses" },
                String::from_utf8_lossy(&toolkit.stderr).trim(),
                match &ours {
                    Ok(c) => format!("accept ({c:?})"),
                    Err(e) => format!("refuse ({e})"),
                }
            ));
            continue;
        }
        let Ok(c) = ours else { continue };
        let value = |k: &str| {
            c.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let alice = c.users.get("alice").map(String::as_str);
        checked_values += 1;
        match name.as_str() {
            "escapes" => assert_eq!(value(csp), Some("default-src 'self'\tx")),
            "trailing-comment" => assert_eq!(value(csp), Some("default-src 'self'")),
            "single-quotes-doubled" => assert_eq!(value(csp), Some("it's")),
            "flow-headers" => assert_eq!(value("X-Frame-Options"), Some("deny")),
            n if n.starts_with("http2-") => assert!(c.http2, "{name}"),
            "anchor-and-alias" => {
                assert_eq!(c.users.get("bob").map(String::as_str), Some(h));
                assert_eq!(alice, Some(h));
            }
            "flow-map"
            | "folded-block-scalar"
            | "literal-block-scalar"
            | "byte-order-mark"
            | "quoted-then-a-comment"
            | "double-quoted-key-and-value"
            | "complex-key" => {
                assert_eq!(alice, Some(h), "{name}")
            }
            "null-section" | "empty-file" | "only-a-comment" | "empty-flow-map"
            | "null-http-section" => {
                assert!(
                    c.users.is_empty() && c.headers.is_empty() && c.tls.is_none(),
                    "{name}: {c:?}"
                )
            }
            other => panic!("{other}.good.yml: say what it reads as"),
        }
    }
    eprintln!(
        "{} web config files checked against promtool check web-config",
        files.len()
    );
    assert!(
        disagree.is_empty(),
        "the file's name, promtool and we disagree:\n{}",
        disagree.join("\n")
    );
    assert_eq!(checked_values, good);
}
