//! The `/` page: version, services and sources with their state, a link to the metrics.

use std::fmt::Write as _;

use crate::model::snapshot::Snapshot;
use crate::support::markup::escape;

/// The landing page.
pub fn page(snap: &Snapshot, telemetry_path: &str) -> String {
    let mut h = String::new();
    let path = escape(telemetry_path);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Locust Exporter</title></head><body>\n\
         <h1>Locust Exporter</h1>\n<p>Version {}</p>\n<p><a href=\"{path}\">Metrics</a> · <a href=\"report\">Run report</a> (live)</p>\n",
        env!("CARGO_PKG_VERSION")
    );
    h.push_str("<h2>Services</h2>\n<table><tr><th>service</th><th>state</th><th>users</th><th>endpoints</th><th>requests</th></tr>\n");
    for s in &snap.services {
        let users = s.users.map_or_else(|| "-".to_owned(), |u| u.to_string());
        let requests = s.total.as_ref().map_or(0, |t| t.requests);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{users}</td><td>{}</td><td>{requests}</td></tr>",
            escape(&s.name),
            s.state.as_str(),
            s.endpoints.len()
        );
    }
    h.push_str("</table>\n<h2>Sources</h2>\n<table><tr><th>source</th><th>service</th><th>up</th><th>lines</th><th>parse errors</th></tr>\n");
    for s in &snap.sources {
        let errors: u64 = s.parse_errors.iter().map(|(_, n)| n).sum();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{errors}</td></tr>",
            escape(&s.source),
            escape(&s.service),
            if s.up { "up" } else { "down" },
            s.lines
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
