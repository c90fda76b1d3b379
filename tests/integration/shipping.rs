//! Shipping it the way Locust is run: environment variables, the Kubernetes Job lifecycle
//! (`--exit-after-stop`, `POST /-/quit`), and Pushgateway push, against a real Locust, a real
//! `prometheus-pushgateway` and a real Prometheus scraping it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const FIXTURE: &str = "fixtures/locust-2.47.0/standalone-full-history/run";

#[test]
fn every_flag_has_its_environment_variable_named_in_help() {
    let (code, out, _) = run(&["--help"], None);
    assert_eq!(code, Some(0));
    for flag in [
        "--csv",
        "--events",
        "--web.listen-address",
        "--web.telemetry-path",
        "--web.config.file",
        "--max-errors-per-endpoint",
        "--poll-interval",
        "--exit-after-stop",
        "--web.enable-lifecycle",
        "--push.url",
        "--push.interval",
        "--push.label",
        "--log.level",
    ] {
        let var = format!(
            "LOCUST_EXPORTER_{}",
            flag.trim_start_matches("--")
                .replace(['.', '-'], "_")
                .to_uppercase()
        );
        assert!(
            out.contains(&format!("[env: {var}")),
            "{flag}: {var} not in --help"
        );
    }
}

#[test]
fn environment_variables_configure_and_flags_win() {
    let mut cmd = Command::new(bin());
    cmd.current_dir(root())
        .env("LOCUST_EXPORTER_CSV", FIXTURE)
        .env("LOCUST_EXPORTER_WEB_TELEMETRY_PATH", "/from-env")
        .env("LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", "127.0.0.1:1") // not bound: the flag wins
        .args(["--web.listen-address", "127.0.0.1:0"]);
    let ex = Exporter::spawn_command(cmd);
    let (status, _, body) = ex.get("/from-env");
    assert_eq!(status, 200, "the telemetry path from the environment");
    assert!(body.contains("locust_exporter_build_info"));
    // The address from the flag won over the variable's (port 1 would not bind).
    assert_ne!(ex.addr.port(), 1);
    let mut bad = Command::new(bin());
    bad.env("LOCUST_EXPORTER_POLL_INTERVAL", "5")
        .args(["--csv", "x"]);
    let out = bad.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("LOCUST_EXPORTER_POLL_INTERVAL=5 (for --poll-interval): `5` has no unit"),
        "an error from a variable names the variable and its value: {err}"
    );
}

/// Booleans from the environment read as a person writes them; a bad one names its
/// variable; a repeatable flag's variable is a comma-separated list (`\,` keeps a comma).
#[test]
fn environment_booleans_lists_and_their_errors() {
    let second = root().join("fixtures/locust-2.8.6/standalone-full-history/run");
    let list = format!("{FIXTURE},b={}", second.display());
    for yes in ["1", "yes", "true", "on"] {
        let out = Command::new(bin())
            .current_dir(root())
            .env("LOCUST_EXPORTER_ONCE", yes)
            .env("LOCUST_EXPORTER_CSV", &list)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "LOCUST_EXPORTER_ONCE={yes}");
        let m = Metrics::parse(&String::from_utf8_lossy(&out.stdout));
        let services: std::collections::BTreeSet<&str> = m
            .find_some("locust_state", &[])
            .iter()
            .map(|s| s.labels["service"].as_str())
            .collect();
        assert_eq!(
            services.len(),
            2,
            "two --csv paths from one variable: {services:?}"
        );
    }
    let out = Command::new(bin())
        .env("LOCUST_EXPORTER_ONCE", "maybe")
        .args(["--csv", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LOCUST_EXPORTER_ONCE=maybe"), "{err}");
    // A comma inside a path, escaped in the variable.
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("a,b");
    std::fs::create_dir(&odd).unwrap();
    for f in ["run_stats.csv", "run_stats_history.csv"] {
        std::fs::copy(root().join(FIXTURE).parent().unwrap().join(f), odd.join(f)).unwrap();
    }
    let escaped = format!("{}/run", odd.display()).replace(',', "\\,");
    let out = Command::new(bin())
        .env("LOCUST_EXPORTER_ONCE", "1")
        .env("LOCUST_EXPORTER_CSV", &escaped)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn quit_needs_the_lifecycle_flag_and_the_web_configs_auth() {
    let ex = Exporter::spawn(&["--csv", FIXTURE]);
    let (status, _, _) = http_request(ex.addr, "POST", "/-/quit", "");
    assert_eq!(status, 403, "not enabled");
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  ops: '{hash}'\n")).unwrap();
    let ex = Exporter::spawn(&[
        "--csv",
        FIXTURE,
        "--web.enable-lifecycle",
        "--web.config.file",
        web.to_str().unwrap(),
    ]);
    assert_eq!(http_request(ex.addr, "POST", "/-/quit", "").0, 401);
    // Authentication comes first, as the exporter toolkit's: an unauthenticated client
    // learns nothing of the routes.
    assert_eq!(http_request(ex.addr, "GET", "/-/quit", "").0, 401);
    let auth = format!(
        "Authorization: Basic {}\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ops:pw")
    );
    assert_eq!(http_request(ex.addr, "GET", "/-/quit", &auth).0, 405);
    let (status, _, body) = http_request(ex.addr, "POST", "/-/quit", &auth);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ex.wait_exit(5), Some(0), "quit exits 0");
}

/// A Kubernetes-Job-like run: Locust headless with `--csv`; the exporter beside it with
/// `--exit-after-stop 5s`, pushing every second to a real Pushgateway that a real Prometheus
/// scrapes. Shared by the tests below.
struct JobRun {
    prefix: PathBuf,
    /// When Locust exited, and when the exporter did (after it), with its exit code.
    locust_exit: Instant,
    exporter_exit: Option<(Instant, i32)>,
    /// The exporter's last scrape that worked before it exited.
    last_scrape: Metrics,
    /// The pushed Aggregated request count seen at the Pushgateway while Locust ran.
    pushed_during: Vec<f64>,
    /// Prometheus's value of the pushed Aggregated count after the exporter exited.
    pushed_final: Option<f64>,
    _dir: tempfile::TempDir,
}

static JOB_RUN: std::sync::OnceLock<Option<JobRun>> = std::sync::OnceLock::new();

fn job_run(test: &str) -> Option<&'static JobRun> {
    let bin = venv_bin(test)?;
    let gateway = Pushgateway::start(test)?;
    JOB_RUN
        .get_or_init(|| {
            let prometheus = Prometheus::start(test, &[("pushgateway", gateway.addr, true)])?;
            let target = Target::start(&bin);
            let dir = tempfile::tempdir().unwrap();
            let prefix = dir.path().join("out").join("run");
            let spec = format!("job={}", prefix.display());
            let url = gateway.url();
            let mut ex = Exporter::spawn(&[
                "--csv",
                &spec,
                "--exit-after-stop",
                "5s",
                "--push.url",
                &url,
                "--push.interval",
                "1s",
            ]);
            let mut locust = locust_command(&bin, &target, 8, false)
                .args(["--csv", prefix.to_str().unwrap()])
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let mut pushed_during = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while locust.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "locust ran too long");
                pushed_during.extend(gateway.metrics().get(
                    "locust_stats_num_requests",
                    &[("service", "job"), ("path", "Aggregated")],
                ));
                std::thread::sleep(Duration::from_millis(500));
            }
            wait_child(&mut locust, 30);
            let locust_exit = Instant::now();
            let mut last_scrape = ex.scrape();
            let exporter_exit = loop {
                if let Some(code) = ex.try_exit() {
                    break Some((Instant::now(), code));
                }
                if locust_exit.elapsed() > Duration::from_secs(30) {
                    break None;
                }
                if let Some(m) = ex.try_scrape() {
                    last_scrape = m;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            let (h, rows) = read_csv(&PathBuf::from(format!("{}_stats.csv", prefix.display())));
            let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
            let promql =
                r#"locust_stats_num_requests{job="locust",service="job",path="Aggregated"}"#;
            let deadline = Instant::now() + Duration::from_secs(20);
            let pushed_final = loop {
                let v = prometheus.query(promql);
                if v == Some(total) || Instant::now() > deadline {
                    break v;
                }
                std::thread::sleep(Duration::from_millis(250));
            };
            Some(JobRun {
                prefix,
                locust_exit,
                exporter_exit,
                last_scrape,
                pushed_during,
                pushed_final,
                _dir: dir,
            })
        })
        .as_ref()
}

impl JobRun {
    fn final_total(&self) -> f64 {
        let (h, rows) = read_csv(&PathBuf::from(format!(
            "{}_stats.csv",
            self.prefix.display()
        )));
        num(&rows.last().unwrap()[col(&h, "Request Count")])
    }
}

#[test]
fn job_exporter_exits_0_soon_after_locust_stops() {
    let Some(run) = job_run("job_exporter_exits_0_soon_after_locust_stops") else {
        return;
    };
    let (at, code) = run.exporter_exit.expect("the exporter never exited");
    assert_eq!(code, 0);
    // Stale after 3 polls (3 s), stopped for 5 s, then the final push: well within 15 s.
    let after = at - run.locust_exit;
    assert!(
        after < Duration::from_secs(15),
        "exited {after:?} after Locust"
    );
    assert!(
        after >= Duration::from_secs(5),
        "not before --exit-after-stop: {after:?}"
    );
}

#[test]
fn job_last_scrape_before_exit_has_the_final_totals() {
    let Some(run) = job_run("job_last_scrape_before_exit_has_the_final_totals") else {
        return;
    };
    assert_stats_match(
        &run.last_scrape,
        "job",
        &PathBuf::from(format!("{}_stats.csv", run.prefix.display())),
    );
    assert_eq!(
        run.last_scrape.get("locust_state", &[("state", "stopped")]),
        Some(1.0)
    );
}

#[test]
fn job_pushed_totals_grow_during_the_run() {
    let Some(run) = job_run("job_pushed_totals_grow_during_the_run") else {
        return;
    };
    let seen = &run.pushed_during;
    assert!(seen.len() >= 3, "pushed while running: {seen:?}");
    assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
    assert!(seen.last() > seen.first(), "it grew: {seen:?}");
}

#[test]
fn job_final_push_equals_the_final_stats_csv() {
    let Some(run) = job_run("job_final_push_equals_the_final_stats_csv") else {
        return;
    };
    assert_eq!(run.pushed_final, Some(run.final_total()));
}

#[test]
fn two_services_push_side_by_side() {
    let Some(gateway) = Pushgateway::start("two_services_push_side_by_side") else {
        return;
    };
    let url = gateway.url();
    let (code, _, err) = run(
        &[
            "--once",
            "--csv",
            &format!("a={FIXTURE}"),
            "--csv",
            "b=fixtures/locust-2.47.0/restart-same-prefix/run",
            "--push.url",
            &url,
            "--push.label",
            "env=ci",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    let m = gateway.metrics();
    for (service, stats) in [
        ("a", "locust-2.47.0/standalone-full-history/run_stats.csv"),
        ("b", "locust-2.47.0/restart-same-prefix/run_stats.csv"),
    ] {
        let (h, rows) = read_csv(&fixture(stats));
        let total = num(&rows.last().unwrap()[col(&h, "Request Count")]);
        assert_eq!(
            m.get(
                "locust_stats_num_requests",
                &[
                    ("job", "locust"),
                    ("service", service),
                    ("env", "ci"),
                    ("path", "Aggregated")
                ]
            ),
            Some(total),
            "{service}"
        );
    }
}

#[test]
fn once_push_fails_non_zero_when_the_pushgateway_is_down() {
    let down = format!("http://{}", free_addr());
    let (code, out, err) = run(&["--once", "--csv", FIXTURE, "--push.url", &down], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("push to") && err.contains("failed"), "{err}");
    assert!(
        out.contains("locust_stats_num_requests"),
        "the exposition is still printed"
    );
}

/// A Pushgateway that is down delays nothing: data is ingested and served as fast as
/// without one, and the failures are counted.
#[test]
fn a_pushgateway_that_is_down_delays_nothing() {
    let down = format!("http://{}", free_addr());
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    many_endpoints_events(&events, 500);
    let ex = Exporter::spawn(&[
        "--events",
        events.to_str().unwrap(),
        "--push.url",
        &down,
        "--push.interval",
        "1s",
    ]);
    let start = Instant::now();
    let m = ex.wait_for(10, "every endpoint", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(500.0)
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let _ = m;
    let m = ex.wait_for(15, "a failed push counted", |m| {
        m.get("locust_exporter_pushes_total", &[("result", "failure")]) >= Some(1.0)
    });
    assert_eq!(
        m.get("locust_exporter_pushes_total", &[("result", "success")]),
        Some(0.0)
    );
    // Scrapes stay fast while pushes fail.
    for _ in 0..5 {
        let t = Instant::now();
        ex.scrape();
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a scrape took {:?}",
            t.elapsed()
        );
    }
}

/// `contrib/kubernetes/job.yaml` parses as YAML, is a Job with Locust and the exporter
/// sharing the results volume, and the exporter's arguments and environment in it are
/// accepted by the binary (it starts and listens).
#[test]
fn the_example_job_manifest_parses_and_its_exporter_arguments_are_accepted() {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(root().join("contrib/kubernetes/job.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    let job = &docs[0];
    assert_eq!(job["kind"].as_str(), Some("Job"));
    let spec = &job["spec"]["template"]["spec"];
    let sidecar = spec["initContainers"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str() == Some("locust-exporter"))
        .expect("the exporter as an init container");
    assert_eq!(
        sidecar["restartPolicy"].as_str(),
        Some("Always"),
        "a native sidecar"
    );
    let locust = &spec["containers"][0];
    let mounts = |c: &yaml_rust2::Yaml| -> Vec<String> {
        c["volumeMounts"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(mounts(sidecar).contains(&"results".to_owned()));
    assert!(mounts(locust).contains(&"results".to_owned()));
    let args: Vec<String> = sidecar["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().expect("string args").to_owned())
        .collect();
    let csv = args.iter().position(|a| a == "--csv").unwrap();
    let locust_args: Vec<&str> = locust["args"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let prefix = locust_args[locust_args.iter().position(|a| *a == "--csv").unwrap() + 1];
    assert!(
        args[csv + 1].ends_with(prefix),
        "the exporter follows Locust's --csv prefix"
    );
    let mut cmd = Command::new(bin());
    for e in sidecar["env"].as_vec().unwrap() {
        cmd.env(e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
    }
    // The manifest's address would be :9646; the test listens on a free port.
    cmd.args(&args)
        .args(["--web.listen-address", "127.0.0.1:0"]);
    let ex = Exporter::spawn_command(cmd);
    assert!(
        ex.stderr().iter().any(|l| l.contains("\"Listening.\"")),
        "started with the manifest's arguments (JSON logs): {:?}",
        ex.stderr()
    );
}

/// A Pushgateway that accepts connections and never answers: the first failed push is
/// logged and counted after one request timeout (10 s), not after every retry (43 s).
#[test]
fn a_hanging_pushgateway_is_seen_within_one_timeout() {
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hang.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        hang.set_nonblocking(true).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(25) {
            if let Ok((c, _)) = hang.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let ex = Exporter::spawn(&[
        "--csv",
        fixture("locust-2.47.0/standalone-full-history/run")
            .to_str()
            .unwrap(),
        "--push.url",
        &format!("http://{addr}"),
        "--push.interval",
        "1s",
    ]);
    let start = Instant::now();
    let m = ex.wait_for(20, "a failed push", |m| {
        m.get("locust_exporter_pushes_total", &[("result", "failure")]) >= Some(1.0)
    });
    let seen = start.elapsed();
    eprintln!("a hanging Pushgateway seen after {seen:?}");
    assert!(seen < Duration::from_secs(15), "{seen:?}");
    // The log line is read from the exporter's stderr by another thread: wait for it (the
    // counter can be scraped a moment before the line arrives).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ex
        .stderr()
        .iter()
        .any(|l| l.contains("Push to the Pushgateway failed"))
    {
        assert!(Instant::now() < deadline, "{:?}", ex.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(m.get_one("locust_exporter_pushes_total", &[("result", "failure")]) >= 1.0);
    drop(ex);
    held.join().unwrap();
}

/// Passwords of `--push.config.file` written four valid ways (`'it''s'`, `"it\u0027s"`,
/// `it's # a comment`, a `password_file` with trailing spaces and a newline) all reach a
/// real Pushgateway behind basic auth as `it's` (each used to send another password: 401).
#[test]
fn push_config_passwords_are_read_as_yaml_and_prometheus_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("it's", 4).unwrap();
    let web = dir.path().join("pgw-web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  ops: '{hash}'\n")).unwrap();
    let Some(pgw) = Pushgateway::start_with(
        "push_config_passwords_are_read_as_yaml_and_prometheus_read_them",
        &[&format!("--web.config.file={}", web.display())],
    ) else {
        return;
    };
    std::fs::write(dir.path().join("password"), "it's  \n").unwrap();
    let variants = [
        "password: 'it''s'".to_owned(),
        "password: \"it\\u0027s\"".to_owned(),
        "password: it's # a comment".to_owned(),
        "password_file: password".to_owned(),
    ];
    let run_prefix = fixture("locust-2.47.0/standalone-full-history/run");
    for (i, v) in variants.iter().enumerate() {
        let cfg = dir.path().join(format!("push{i}.yml"));
        std::fs::write(&cfg, format!("basic_auth:\n  username: ops\n  {v}\n")).unwrap();
        let service = format!("variant{i}");
        let (code, _, err) = run(
            &[
                "--csv",
                &format!("{service}={}", run_prefix.display()),
                "--once",
                "--push.url",
                &pgw.url(),
                "--push.config.file",
                cfg.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(code, Some(0), "{v}: {err}");
    }
    let (status, _, _) = http_get(pgw.addr, "/metrics", None);
    assert_eq!(status, 401, "the Pushgateway does want a password");
}
