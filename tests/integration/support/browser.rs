//! A real headless Chromium (Debian's `chromium`) for the run report: the DOM after its
//! scripts ran, every console message, and every request a page made, seen by a recording
//! proxy every connection must go through (loopback included); and screenshots.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Chromium, or None (after saying so loudly); `REQUIRE_CHROMIUM` makes its absence fail.
pub fn chromium(test: &str) -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var_os("REQUIRE_CHROMIUM").is_none(),
            "{test}: REQUIRE_CHROMIUM is set but there is no chromium on PATH"
        );
        eprintln!("\n*** SKIPPED {test}: no chromium (apt-get install chromium, or ./test.sh --install) ***\n");
    }
    found
}

/// Hosts Chromium's browser process asks on its own (update checks, sign-in, network time),
/// whatever the page: set apart from the page's requests. A page that names none of them
/// cannot have asked them (the report tests check its text too).
pub const BROWSER_OWN: [&str; 5] = [
    "google.com",
    "googleapis.com",
    "gvt1.com",
    "gstatic.com",
    "googleusercontent.com",
];

/// What a page did in Chromium.
pub struct Loaded {
    /// The DOM after the load (and its scripts).
    pub dom: String,
    /// Console messages (errors, uncaught exceptions, logs) as Chromium logged them.
    pub console: Vec<String>,
    /// The first line of every request made through the proxy, the browser's own included.
    pub requests: Vec<String>,
}

impl Loaded {
    /// The requests that were not Chromium's own ([`BROWSER_OWN`]).
    pub fn page_requests(&self) -> Vec<&String> {
        self.requests
            .iter()
            .filter(|r| {
                let target = r.split_whitespace().nth(1).unwrap_or("");
                let host = target
                    .trim_start_matches("http://")
                    .trim_start_matches("https://")
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("");
                !BROWSER_OWN
                    .iter()
                    .any(|own| host == *own || host.ends_with(&format!(".{own}")))
            })
            .collect()
    }
}

/// A proxy on an ephemeral port that records each connection's first line and closes it.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 512];
                        let n = conn.read(&mut buf).unwrap_or(0);
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let line = text.lines().next().unwrap_or("(nothing sent)").to_owned();
                        s.lock().unwrap().push(line);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Recorder {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.seen.lock().unwrap().clone()
    }
}

fn base(bin: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--no-pings",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    cmd
}

/// Loads `url` and returns its DOM once its scripts ran, its console and every request.
pub fn load(bin: &Path, url: &str) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let proxy = Recorder::start();
    let out = base(bin, profile.path())
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--proxy-server=http://127.0.0.1:{}", proxy.port))
        .arg("--proxy-bypass-list=<-loopback>")
        .args(["--window-size=1280,900", "--dump-dom", url])
        .output()
        .unwrap();
    let requests = proxy.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        requests,
    }
}

/// A screenshot of `url` into `png`, the window `height` pixels tall.
pub fn screenshot(bin: &Path, url: &str, png: &Path, height: u32) {
    let profile = tempfile::tempdir().unwrap();
    let out = base(bin, profile.path())
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        png.metadata().map(|m| m.len() > 1000).unwrap_or(false),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of attribute `name` in the opening tag of the element with `id`.
pub fn attr_of_id(dom: &str, id: &str, name: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    attr(&dom[start..end], name)
}

/// The value of attribute `name` in `tag` (an opening tag's text), unescaped.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = at + tag[at..].find('"')?;
    Some(unescape(&tag[at..end]))
}

/// HTML's five entities back to their characters.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of the element with `id` (its first text run).
pub fn text_of_id(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let open = at + dom[at..].find('>')? + 1;
    let close = open + dom[open..].find('<')?;
    Some(unescape(&dom[open..close]))
}

/// A table row of the report: (service, method, name) and its cells' `data-v` values.
pub type Row = ((String, String, String), Vec<Option<f64>>);

/// Each `<tr data-service=…>` of the endpoint tables, in order.
pub fn endpoint_rows(dom: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find("<tr") {
        rest = &rest[at..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let Some(row_end) = rest.find("</tr>") else {
            break;
        };
        let row = &rest[tag_end..row_end];
        if let (Some(s), Some(m), Some(n)) = (
            attr(tag, "data-service"),
            attr(tag, "data-method"),
            attr(tag, "data-name"),
        ) {
            let mut values = Vec::new();
            let mut cells = row;
            while let Some(v) = cells.find(" data-v=\"") {
                cells = &cells[v + 9..];
                let end = cells.find('"').unwrap_or(0);
                values.push(cells[..end].parse::<f64>().ok());
                cells = &cells[end..];
            }
            rows.push(((s, m, n), values));
        }
        rest = &rest[row_end..];
    }
    rows
}
