//! Input made for a test (where no recording will do: sizes, counts).

use std::path::Path;

/// A JSON-lines file with one request to each of `endpoints` distinct names (and a
/// failure for every tenth), for large expositions.
pub fn many_endpoints_events(path: &Path, endpoints: usize) {
    let mut out = String::new();
    for i in 0..endpoints {
        let exception = if i % 10 == 0 {
            "\"HTTPError('500')\""
        } else {
            "null"
        };
        out.push_str(&format!("{{\"event\":\"request\",\"time\":1.5,\"request_type\":\"GET\",\"name\":\"/api/v1/items/{i}\",\"response_time\":12.5,\"response_length\":100,\"exception\":{exception}}}\n"));
    }
    std::fs::write(path, out).unwrap();
}
