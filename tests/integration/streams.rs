//! Event streams from real locustfiles and real fleets: the plugin keeps its stdout stream
//! whole whatever else prints, and one `--events DIR/` (or glob) follows every worker's file,
//! now and later.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn request(name: &str) -> String {
    format!("{{\"event\":\"request\",\"time\":1.5,\"request_type\":\"GET\",\"name\":\"{name}\",\"response_time\":1.5,\"response_length\":1,\"exception\":null}}\n")
}

fn plugin() -> String {
    root()
        .join("contrib/locust_exporter_plugin.py")
        .display()
        .to_string()
}

/// A locustfile that prints on every request (print with and without a newline, a logging
/// handler on stdout, a raw write to fd 1), piped into `--events -`: every request counted
/// exactly as Locust counted it, not one line lost or garbled.
#[test]
fn a_locustfile_that_prints_loses_no_event() {
    noisy_run("a_locustfile_that_prints_loses_no_event", true);
}

/// The same with the plugin listed after the locustfile: what the locustfile printed while
/// it was imported (before the plugin took standard output) is skipped as the stream's
/// preamble, not counted as a parse error.
#[test]
fn the_plugin_listed_second_gives_no_parse_error() {
    noisy_run("the_plugin_listed_second_gives_no_parse_error", false);
}

fn noisy_run(test: &str, plugin_first: bool) {
    let Some(bin) = venv_bin(test) else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("final");
    let mut ex = Exporter::spawn_with_stdin(&["--events", "noisy=-"]);
    let noisy = fixture("record/noisy_locustfile.py").display().to_string();
    let locustfile = if plugin_first {
        format!("{},{noisy}", plugin())
    } else {
        format!("{noisy},{}", plugin())
    };
    let mut locust = Command::new(bin.join("locust"))
        .args([
            "-f",
            &locustfile,
            "--headless",
            "-u",
            "10",
            "-r",
            "5",
            "-t",
            "8s",
        ])
        .args(["-H", &target.url, "--json-file", json.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut from = locust.stdout.take().unwrap();
    let mut to = ex.stdin.take().unwrap();
    let pump = std::thread::spawn(move || std::io::copy(&mut from, &mut to).unwrap());
    let mut stderr = locust.stderr.take().unwrap();
    let noise = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    wait_child(&mut locust, 60);
    pump.join().unwrap();
    let noise = noise.join().unwrap();
    assert!(
        noise.contains("raw write to fd 1") && noise.contains("logged /"),
        "the noise went to stderr"
    );
    let totals = json_totals(&PathBuf::from(format!("{}.json", json.display())));
    let all: f64 = totals.iter().map(|t| t.1 .0).sum();
    assert!(all > 30.0, "the run made requests ({all})");
    let m = ex.wait_for(10, "every request", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(all)
    });
    assert_totals_labelled(&m, &totals, Key::MethodAndName, &[("service", "noisy")]);
    let preamble = m
        .get("locust_exporter_preamble_lines_total", &[])
        .unwrap_or(0.0);
    if plugin_first {
        assert_eq!(
            preamble, 0.0,
            "the plugin took stdout before anything printed"
        );
    } else {
        // "noisy locustfile imported", printed while the locustfile was imported.
        assert_eq!(
            preamble, 1.0,
            "the import-time print was the stream's preamble"
        );
    }
    assert_eq!(
        m.get("locust_exporter_parse_errors_total", &[]),
        None,
        "no line of the stream was garbled"
    );
}

fn worker(bin: &std::path::Path, port: &str, dir: &std::path::Path) -> Child {
    let locustfile = format!("{},{}", plugin(), fixture("record/locustfile.py").display());
    Command::new(bin.join("locust"))
        .args(["-f", &locustfile, "--worker", "--master-host", "127.0.0.1"])
        .args(["--master-port", port])
        .args([
            "--exporter-events",
            &dir.join("events-{pid}.jsonl").display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Master and two workers write `events-{pid}.jsonl` into one directory, followed with
/// `--events load=DIR/`; a third worker joins mid-run and is picked up. Counts equal the
/// master's final totals exactly, the worker count follows, nothing is counted twice.
#[test]
fn one_directory_follows_every_worker_and_a_latecomer() {
    let Some(bin) = venv_bin("one_directory_follows_every_worker_and_a_latecomer") else {
        return;
    };
    let target = Target::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let json = dir.path().join("final");
    // The directory does not exist yet: it is waited for.
    let spec = format!("load={}/", events.display());
    let ex = Exporter::spawn(&["--events", &spec]);
    std::fs::create_dir(&events).unwrap();
    let port = free_addr().port().to_string();
    let locustfile = format!("{},{}", plugin(), fixture("record/locustfile.py").display());
    let mut master = Command::new(bin.join("locust"))
        .args([
            "-f",
            &locustfile,
            "--headless",
            "-u",
            "12",
            "-r",
            "6",
            "-t",
            "14s",
        ])
        .args(["-H", &target.url, "--only-summary"])
        .args([
            "--master",
            "--expect-workers",
            "2",
            "--master-bind-host",
            "127.0.0.1",
        ])
        .args(["--master-bind-port", &port])
        .args(["--json-file", json.to_str().unwrap()])
        .args([
            "--exporter-events",
            &events.join("master-{pid}.jsonl").display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut workers: Vec<Child> = (0..2).map(|_| worker(&bin, &port, &events)).collect();
    let start = Instant::now();
    let mut most = 0.0f64;
    let mut latecomer = false;
    while master.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the master ran too long"
        );
        if !latecomer && start.elapsed() > Duration::from_secs(6) {
            workers.push(worker(&bin, &port, &events));
            latecomer = true;
        }
        if let Some(w) = ex.scrape().get("locust_workers", &[("service", "load")]) {
            most = most.max(w);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_child(&mut master, 60);
    for w in &mut workers {
        wait_child(w, 30);
    }
    assert_eq!(most, 3.0, "the worker count followed the latecomer");
    let totals = json_totals(&PathBuf::from(format!("{}.json", json.display())));
    let all: f64 = totals.iter().map(|t| t.1 .0).sum();
    let m = ex.wait_for(10, "every worker's events", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(all)
    });
    assert_totals_labelled(&m, &totals, Key::MethodAndName, &[("service", "load")]);
    let files = std::fs::read_dir(&events).unwrap().count();
    assert_eq!(files, 4, "a master and three workers wrote streams");
    let sources = m
        .find("locust_exporter_source_up", &[])
        .iter()
        .filter(|s| s.labels["source"].starts_with(&events.display().to_string()))
        .count();
    assert_eq!(sources, 4, "each file is a source");
    let landing = ex.get("/").2;
    assert!(
        landing.contains("master-"),
        "the status page lists each file"
    );
}

/// A file of a followed directory that disappears is finished without losing what was read;
/// a file that appears later is picked up.
#[test]
fn files_come_and_go_in_a_followed_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.jsonl"), request("/a").repeat(10)).unwrap();
    let glob = format!("w={}/*.jsonl", dir.path().display());
    let ex = Exporter::spawn(&["--events", &glob]);
    ex.wait_for(5, "a", |m| {
        m.get("locust_requests_total", &[("name", "/a")]) == Some(10.0)
    });
    std::fs::remove_file(dir.path().join("a.jsonl")).unwrap();
    std::fs::write(dir.path().join("b.jsonl"), request("/b").repeat(5)).unwrap();
    std::fs::write(dir.path().join("ignored.txt"), request("/x")).unwrap();
    let m = ex.wait_for(5, "b", |m| {
        m.get("locust_requests_total", &[("name", "/b")]) == Some(5.0)
    });
    assert_eq!(
        m.get("locust_requests_total", &[("name", "/a")]),
        Some(10.0)
    );
    assert_eq!(
        m.get("locust_requests_total", &[("name", "/x")]),
        None,
        "not matched"
    );
    let a = dir.path().join("a.jsonl").display().to_string();
    assert_eq!(
        m.get("locust_exporter_source_up", &[("source", &a)]),
        Some(0.0)
    );
    assert_eq!(
        m.get("locust_exporter_lines_total", &[("source", &a)]),
        Some(10.0)
    );
}

/// An events directory of 2,000 files under `ulimit -n 1024` (systemd's default soft
/// limit, here also the hard one): every file is read, HTTP stays up, and the tails keep
/// fewer files open than the limit.
#[test]
fn two_thousand_event_files_under_ulimit_1024_keep_http_up() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    for i in 0..2000 {
        std::fs::write(
            events.join(format!("worker-{i:04}.jsonl")),
            format!("{{\"event\":\"request\",\"time\":1.5,\"request_type\":\"GET\",\"name\":\"/w\",\"response_time\":{i}.0,\"response_length\":1,\"exception\":null}}\n"),
        )
        .unwrap();
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 1024 && exec \"$0\" \"$@\"")
        .arg(bin())
        .args(["--events", &format!("{}/", events.display())]);
    let ex = Exporter::spawn_command(cmd);
    let m = ex.wait_for(60, "all 2,000 files read", |m| {
        m.get("locust_stats_num_requests", &[("path", "Aggregated")]) == Some(2000.0)
    });
    assert_eq!(
        m.get_one("locust_stats_num_requests", &[("path", "/w")]),
        2000.0
    );
    let open = std::fs::read_dir(format!("/proc/{}/fd", ex.pid()))
        .unwrap()
        .count();
    // And a new file is still read, and HTTP answers, after every file was opened.
    std::fs::write(
        events.join("late.jsonl"),
        "{\"event\":\"request\",\"time\":2.5,\"request_type\":\"GET\",\"name\":\"/late\",\"response_time\":1.0,\"response_length\":1,\"exception\":null}\n",
    )
    .unwrap();
    ex.wait_for(20, "the late file", |m| {
        m.get("locust_stats_num_requests", &[("path", "/late")]) == Some(1.0)
    });
    let mut ok = 0;
    for _ in 0..20 {
        ok += usize::from(http_get(ex.addr, "/-/healthy", None).0 == 200);
    }
    eprintln!(
        "2,000 event files under ulimit -n 1024: {open} descriptors open, health checks {ok}/20"
    );
    assert_eq!(ok, 20);
    assert!(open < 1000, "{open} descriptors open");
}
