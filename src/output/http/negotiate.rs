//! Choosing the exposition format and compression from a scrape's `Accept` and
//! `Accept-Encoding` headers, as the Prometheus client libraries do (client_golang's
//! `expfmt.NegotiateIncludingOpenMetrics`): media ranges in order of their q-value (ties in
//! the order given), the first one naming a format offered wins, `q=0` refuses, and
//! anything else — no header, `*/*`, an unknown type or version — gets text 0.0.4.

use crate::expose::Format;

/// One media range of an `Accept` header.
#[derive(Debug, PartialEq)]
struct Range<'a> {
    media: &'a str,
    params: Vec<(&'a str, &'a str)>,
    q: f64,
}

fn ranges(accept: &str) -> Vec<Range<'_>> {
    let mut out: Vec<Range<'_>> = accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';').map(str::trim);
            let media = it.next().filter(|m| !m.is_empty())?;
            let mut params = Vec::new();
            let mut q = 1.0;
            for p in it {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                if k.eq_ignore_ascii_case("q") {
                    q = v
                        .parse::<f64>()
                        .ok()
                        .filter(|q| q.is_finite())?
                        .clamp(0.0, 1.0);
                } else {
                    params.push((k, v));
                }
            }
            Some(Range { media, params, q })
        })
        .collect();
    // Stable: equal q-values keep the scraper's order.
    out.sort_by(|a, b| b.q.total_cmp(&a.q));
    out
}

impl Range<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The format this range names, if any.
    fn format(&self) -> Option<Format> {
        let media = self.media.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.is_named_by(&media, &|name| self.param(name)))
    }
}

/// The format to answer `accept` with, among `offered` (in [`Format::ALL`] order, not
/// empty): the scraper's most preferred one offered, else text, else the first offered.
pub fn format(accept: Option<&str>, offered: &[Format]) -> Format {
    let chosen = accept.and_then(|accept| {
        ranges(accept)
            .into_iter()
            .filter(|r| r.q > 0.0)
            .filter_map(|r| r.format())
            .find(|f| offered.contains(f))
    });
    let fallback = if offered.contains(&Format::Text) || offered.is_empty() {
        Format::Text
    } else {
        offered[0]
    };
    chosen.unwrap_or(fallback)
}

/// True if `accept_encoding` accepts gzip, as RFC 9110 §12.5.3 reads it: `gzip` (or its
/// alias `x-gzip`) by its own q-value if named, else by `*`'s; `q=0` refuses; names and
/// parameters are case-insensitive.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(v) = accept_encoding else {
        return false;
    };
    let (mut named, mut any) = (None::<f64>, None::<f64>);
    for part in v.split(',') {
        let mut it = part.split(';').map(str::trim);
        let coding = it.next().unwrap_or("");
        let q = it
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| q.trim().parse::<f64>().ok())
            .filter(|q| q.is_finite())
            .unwrap_or(0.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            named = Some(named.map_or(q, |n| n.max(q)));
        } else if coding == "*" {
            any = Some(q);
        }
    }
    named.or(any).is_some_and(|q| q > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Format] = &Format::ALL;
    /// What Prometheus 2.42 sends, without and with `--enable-feature=native-histograms`.
    const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    const PROMETHEUS_NATIVE: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";

    #[test]
    fn what_prometheus_asks_for() {
        assert_eq!(format(Some(PROMETHEUS), ALL), Format::OpenMetrics);
        assert_eq!(format(Some(PROMETHEUS_NATIVE), ALL), Format::Protobuf);
        assert_eq!(
            format(
                Some(PROMETHEUS_NATIVE),
                &[Format::Text, Format::OpenMetrics]
            ),
            Format::Text
        );
        assert_eq!(format(Some(PROMETHEUS), &[Format::Text]), Format::Text);
        assert_eq!(
            format(Some(PROMETHEUS), &[Format::Protobuf]),
            Format::Protobuf
        );
    }

    #[test]
    fn q_values_order_and_refuse() {
        let accept = "text/plain;version=0.0.4;q=0.2, application/openmetrics-text;q=0.9";
        assert_eq!(format(Some(accept), ALL), Format::OpenMetrics);
        let accept = "application/openmetrics-text;q=0, text/plain";
        assert_eq!(format(Some(accept), ALL), Format::Text);
        // Equal q: the scraper's order.
        let accept = "application/openmetrics-text, application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        assert_eq!(format(Some(accept), ALL), Format::OpenMetrics);
        // A quoted parameter, upper case media type.
        let accept = "Application/Vnd.Google.Protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=delimited";
        assert_eq!(format(Some(accept), ALL), Format::Protobuf);
    }

    #[test]
    fn fallback_is_text() {
        for accept in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/html"),
            Some("application/openmetrics-text;version=2.0.0"),
            Some("text/plain;version=1.0.0"),
            Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"),
            Some("application/json;q=abc"),
            Some(",,;;=,q=1"),
        ] {
            assert_eq!(format(accept, ALL), Format::Text, "{accept:?}");
        }
        assert_eq!(format(None, &[Format::OpenMetrics]), Format::OpenMetrics);
    }

    #[test]
    fn gzip_negotiation() {
        for (header, gzip) in [
            (None, false),
            (Some("gzip"), true),
            (Some("deflate, gzip;q=0.5"), true),
            (Some("GZIP"), true),
            (Some("gzip;q=0"), false),
            (Some("*"), true),
            (Some("identity"), false),
            (Some("br, deflate"), false),
            (Some("GZIP;Q=0"), false),
            (Some("gzip;q=0, *"), false),
            (Some("x-gzip"), true),
            (Some("*;q=0"), false),
            (Some("br, *;q=0.1"), true),
            (Some("gzip;q=abc"), false),
        ] {
            assert_eq!(accepts_gzip(header), gzip, "{header:?}");
        }
    }
}
