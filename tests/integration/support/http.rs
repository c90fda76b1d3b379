//! Raw HTTP/1.1 over a TCP stream: what a scraper, a browser or an attacker sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::Metrics;

/// A bounded HTTP/1.1 GET over loopback; `auth` is the Authorization header value.
pub fn http_get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String, String) {
    let headers = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let (status, head, body) = http_request(addr, "GET", path, &headers);
    (
        status,
        head,
        String::from_utf8(body).expect("utf-8 response"),
    )
}

/// A bounded HTTP/1.1 request over loopback with extra header lines (each ending in
/// `\r\n`): (status, head, body bytes).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // One write of the whole request, as a client makes it; a server may answer (and close)
    // before reading it all (plain HTTP to a TLS port): its answer is read even then.
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    let _ = s.write_all(request.as_bytes());
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8(raw[..split].to_vec()).expect("utf-8 head");
    let mut body = raw[split + 4..].to_vec();
    if header_value(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

/// The value of header `name` (case-insensitive) in a response head.
pub fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// A `Basic` authorization header value for `user` and `password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// `locust_exporter_http_client_errors_total{reason}` of a scrape (panics when there is no
/// such series: the lookup found what it looks at).
pub fn client_errors(m: &Metrics, reason: &str) -> f64 {
    m.get_one(
        "locust_exporter_http_client_errors_total",
        &[("reason", reason)],
    )
}
