//! The Locust user's way in: the wheel (maturin, `bindings = "bin"`) installed into a fresh
//! venv offline; `locust … --exporter` running the bundled binary inside real Locust runs
//! (standalone, master + 2 workers over Locust's own messaging, a check that aborts).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::*;

/// The wheel: `target/wheels/locust_exporter-*.whl` (test.sh's `wheel` stage builds it), or
/// built here with the venv's maturin.
fn wheel(test: &str) -> Option<PathBuf> {
    static WHEEL: OnceLock<Option<PathBuf>> = OnceLock::new();
    let bin = venv_bin(test)?;
    WHEEL
        .get_or_init(|| {
            let dir = root().join("target/wheels");
            let find = || {
                std::fs::read_dir(&dir).ok()?.find_map(|e| {
                    let p = e.ok()?.path();
                    let name = p.file_name()?.to_str()?.to_owned();
                    (name.starts_with("locust_exporter-") && name.ends_with(".whl")).then_some(p)
                })
            };
            if let Some(w) = find() {
                return Some(w);
            }
            let maturin = bin.join("maturin");
            assert!(
                maturin.exists() || std::env::var_os("REQUIRE_LOCUST").is_none(),
                "{test}: REQUIRE_LOCUST is set but {} is missing (test.sh installs it)",
                maturin.display()
            );
            if !maturin.exists() {
                eprintln!(
                    "\n*** SKIPPED {test}: no maturin in the venv (./test.sh --install) ***\n"
                );
                return None;
            }
            let out = Command::new(maturin)
                .current_dir(root())
                .args(["build", "--out"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "maturin build: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            find()
        })
        .clone()
}

/// A fresh venv with the wheel installed offline (`--no-index`) and the test venv's Locust
/// visible through a `.pth` file (no download; Locust runs as `python -m locust`): its
/// `bin/`.
fn fresh_venv(test: &str, dir: &Path) -> Option<PathBuf> {
    let wheel = wheel(test)?;
    let tests_venv = venv_bin(test)?;
    let venv = dir.join("venv");
    let made = Command::new(tests_venv.join("python"))
        .args([
            "-c",
            "import sys, venv; venv.create(sys.argv[1], with_pip=True)",
        ])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let site = Command::new(tests_venv.join("python"))
        .args([
            "-c",
            "import locust, os; print(os.path.dirname(os.path.dirname(locust.__file__)))",
        ])
        .output()
        .unwrap();
    let site = String::from_utf8_lossy(&site.stdout).trim().to_owned();
    let own_site = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap();
    let own_site = PathBuf::from(String::from_utf8_lossy(&own_site.stdout).trim());
    std::fs::write(own_site.join("tests_locust.pth"), format!("{site}\n")).unwrap();
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--no-index", "--no-deps"])
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "pip install {}: {}",
        wheel.display(),
        String::from_utf8_lossy(&installed.stderr)
    );
    Some(venv.join("bin"))
}

/// A locustfile that imports the plugin as a user would: the recording's tasks.
fn locustfile(dir: &Path) -> PathBuf {
    let path = dir.join("with_exporter.py");
    std::fs::write(
        &path,
        format!(
            "import locust_exporter  # noqa: F401\nimport sys\nsys.path.insert(0, {:?})\nfrom locustfile import *  # noqa: F401,F403\n",
            fixture("record").display().to_string()
        ),
    )
    .unwrap();
    path
}

struct Ran {
    code: Option<i32>,
    stderr: String,
    took: Duration,
    scraped: Option<Metrics>,
}

/// `locust` from `bin` headless against `target` with `args`, scraping the exporter at
/// `listen` while it runs.
fn locust(
    bin: &Path,
    file: &Path,
    target: &Target,
    listen: std::net::SocketAddr,
    args: &[&str],
) -> Ran {
    let started = Instant::now();
    let mut child = Command::new(bin.join("python"))
        .args(["-m", "locust"])
        .args([
            "-f",
            &file.display().to_string(),
            "--headless",
            "-u",
            "10",
            "-r",
            "10",
            "-H",
            &target.url,
        ])
        .args(["--exporter", "--exporter-listen", &listen.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut { stderr }, &mut s).unwrap_or(0);
        s
    });
    let mut scraped = None;
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "locust did not end"
        );
        let up = std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(100)).is_ok();
        if scraped.is_none() && up {
            let (status, _, body) = http_get(listen, "/metrics", None);
            if status == 200 && body.contains("locust_requests_total{") {
                scraped = Some(Metrics::parse(&body));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let code = child.wait().unwrap().code();
    Ran {
        code,
        stderr: reader.join().unwrap(),
        took: started.elapsed(),
        scraped,
    }
}

/// Per (method, name), requests and failures of a summary JSON's first service (as
/// [`json_totals`] reads Locust's `--json-file`).
fn summary_totals(path: &Path) -> Totals {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["services"][0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let key = (
                e["method"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            );
            let count = |k: &str| e[k].as_f64().unwrap();
            (key, (count("requests"), count("failures")))
        })
        .collect()
}

#[test]
fn the_wheel_installs_offline_and_runs_inside_locust_with_its_verdict() {
    let test = "the_wheel_installs_offline_and_runs_inside_locust_with_its_verdict";
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = fresh_venv(test, dir.path()) else {
        return;
    };
    let import = Command::new(bin.join("python"))
        .args([
            "-c",
            "import locust_exporter, sys; sys.stderr.write(locust_exporter.exporter_binary())",
        ])
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&import.stderr),
        bin.join("locust-exporter").display().to_string(),
        "the bundled binary, beside the venv's python"
    );
    let version = Command::new(bin.join("locust-exporter"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("locust-exporter "),
        "{version:?}"
    );
    let target = Target::start(&venv_bin(test).unwrap());
    let file = locustfile(dir.path());
    for (check, want) in [("fail_ratio<1%", 99), ("fail_ratio<50%", 0)] {
        let json = dir.path().join(format!("run-{want}"));
        let summary = dir.path().join(format!("summary-{want}.json"));
        let ran = locust(
            &bin,
            &file,
            &target,
            free_addr(),
            &[
                "-t",
                "6s",
                "--json-file",
                &json.display().to_string(),
                "--exporter-check",
                check,
                &format!("--exporter-arg=--summary.json {}", summary.display()),
            ],
        );
        assert_eq!(ran.code, Some(want), "{check}:\n{}", ran.stderr);
        let scraped = ran.scraped.expect("/metrics answered during the run");
        assert!(
            scraped
                .get("locust_requests_total", &[("name", "/")])
                .is_some(),
            "{check}"
        );
        assert!(
            ran.stderr.contains(&format!(
                "{}    {check}",
                if want == 0 { "PASS" } else { "FAIL" }
            )),
            "{}",
            ran.stderr
        );
        let ours = summary_totals(&summary);
        let theirs = json_totals(&json.with_extension("json"));
        assert!(ours.len() >= 5, "{ours:?}");
        assert_eq!(ours, theirs, "the exporter's totals are Locust's");
    }
}

#[test]
fn a_distributed_run_counts_the_workers_batches_once_over_locusts_messaging() {
    let test = "a_distributed_run_counts_the_workers_batches_once_over_locusts_messaging";
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = fresh_venv(test, dir.path()) else {
        return;
    };
    let target = Target::start(&venv_bin(test).unwrap());
    let file = locustfile(dir.path());
    let port = free_addr().port().to_string();
    let mut workers: Vec<std::process::Child> = (0..2)
        .map(|_| {
            Command::new(bin.join("python"))
                .args(["-m", "locust"])
                .args([
                    "-f",
                    &file.display().to_string(),
                    "--worker",
                    "--master-host",
                    "127.0.0.1",
                    "--master-port",
                    &port,
                    "--exporter",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let json = dir.path().join("run");
    let summary = dir.path().join("summary.json");
    let ran = locust(
        &bin,
        &file,
        &target,
        free_addr(),
        &[
            "-t",
            "8s",
            "--master",
            "--expect-workers",
            "2",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
            "--json-file",
            &json.display().to_string(),
            "--exporter-check",
            "fail_ratio<50%",
            &format!("--exporter-arg=--summary.json {}", summary.display()),
        ],
    );
    for w in &mut workers {
        wait_child(w, 30);
    }
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let ours = summary_totals(&summary);
    let theirs = json_totals(&json.with_extension("json"));
    assert!(ours.values().map(|r| r.0).sum::<f64>() > 100.0, "{ours:?}");
    assert_eq!(
        ours, theirs,
        "the master's exporter counts every worker's requests once"
    );
}

#[test]
fn a_failing_check_stops_a_headless_run() {
    let test = "a_failing_check_stops_a_headless_run";
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = fresh_venv(test, dir.path()) else {
        return;
    };
    let target = Target::start(&venv_bin(test).unwrap());
    let file = locustfile(dir.path());
    let ran = locust(
        &bin,
        &file,
        &target,
        free_addr(),
        &[
            "-t",
            "120s",
            "--exporter-check",
            "fail_ratio<1%",
            "--exporter-check-abort",
            "--exporter-check-grace",
            "3s",
        ],
    );
    eprintln!(
        "a run of -t 120s with a check failing from its first seconds ended after {:?}",
        ran.took
    );
    assert_eq!(ran.code, Some(99), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("a check failed, stopping the run"),
        "{}",
        ran.stderr
    );
    // Grace (3 s) + the next snapshot + Locust's own stop, far from the 120 s asked.
    assert!(ran.took < Duration::from_secs(30), "{:?}", ran.took);
}

#[test]
fn abort_on_stdout_is_checked_with_its_flags() {
    let ev = fixture("baseline/locust-2.47.0/01-a.jsonl")
        .display()
        .to_string();
    let check = ["--check", "p95<1s"];
    // (flags after the input, exit code, what stderr must say)
    let cases: [(&[&str], i32, &str); 3] = [
        (&["--check.abort.stdout"], 2, "give --check.abort"),
        (
            &[check[0], check[1], "--check.abort"],
            2,
            "--check.abort.stdout",
        ),
        (
            &[check[0], check[1], "--check.abort", "--check.abort.stdout"],
            0,
            "",
        ),
    ];
    for (flags, want, says) in cases {
        let mut args = vec!["--once", "--events", &ev];
        args.extend_from_slice(flags);
        let (code, _, err) = run(&args, None);
        assert_eq!(code, Some(want), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}
