//! A stand-in for Locust's web UI that serves recorded answers and injects faults (down,
//! HTML, slow, errors), for what a real Locust cannot be made to do on demand.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a [`FakeWebUi`] answers.
#[derive(Debug, Clone)]
pub enum WebUiMode {
    /// The recorded files of a directory (`requests.json`, `requests.csv`, …).
    Files(PathBuf),
    /// An HTML error page with this status.
    Html(u16),
    /// The files, after this long (beyond the exporter's timeout).
    Slow(PathBuf, Duration),
    /// A redirect to a login form (Locust's `--web-login`).
    LoginRedirect,
    /// The files, behind basic auth with this `user:password`.
    BasicAuth(PathBuf, String),
}

/// A stand-in for a Locust web UI on 127.0.0.1, serving recorded answers (a real HTTP
/// server, one connection at a time, closed after each answer).
pub struct FakeWebUi {
    pub addr: SocketAddr,
    mode: Arc<Mutex<WebUiMode>>,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeWebUi {
    pub fn start(mode: WebUiMode) -> FakeWebUi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (m, n) = (mode.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mode = m.lock().unwrap().clone();
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                        match s.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let file = |dir: &Path| {
                        let name = match path.as_str() {
                            "/stats/requests" => "requests.json",
                            "/stats/requests/csv" => "requests.csv",
                            "/stats/failures/csv" => "failures.csv",
                            "/exceptions/csv" => "exceptions.csv",
                            _ => "",
                        };
                        std::fs::read(dir.join(name)).ok()
                    };
                    let (status, extra, body) = match &mode {
                        WebUiMode::Files(dir) => match file(dir) {
                            Some(b) => (200, String::new(), b),
                            None => (404, String::new(), b"not found".to_vec()),
                        },
                        WebUiMode::Html(code) => (
                            *code,
                            String::new(),
                            b"<!doctype html><title>Error</title><p>boom</p>".to_vec(),
                        ),
                        WebUiMode::Slow(dir, wait) => {
                            std::thread::sleep(*wait);
                            (200, String::new(), file(dir).unwrap_or_default())
                        }
                        WebUiMode::LoginRedirect => {
                            (302, "Location: /login?next=%2F\r\n".to_owned(), Vec::new())
                        }
                        WebUiMode::BasicAuth(dir, userpass) => {
                            let want = format!(
                                "authorization: basic {}",
                                base64::Engine::encode(
                                    &base64::engine::general_purpose::STANDARD,
                                    userpass
                                )
                            );
                            if head.to_lowercase().contains(&want.to_lowercase()) {
                                (200, String::new(), file(dir).unwrap_or_default())
                            } else {
                                (
                                    401,
                                    "WWW-Authenticate: Basic realm=\"Locust\"\r\n".to_owned(),
                                    Vec::new(),
                                )
                            }
                        }
                    };
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                });
            }
        });
        FakeWebUi {
            addr,
            mode,
            requests,
        }
    }

    /// Answers the next requests this way.
    pub fn set(&self, mode: WebUiMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
