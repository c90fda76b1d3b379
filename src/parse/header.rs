//! Column-name → index maps for Locust 1.x and 2.x headers.
//!
//! Columns are found by name, never by position, so the 4- and 6-column failures headers,
//! reordered columns and custom `PERCENTILES_TO_REPORT` all work. A header without a needed
//! column is an [`ParseError::UnknownHeader`] for that file only.

use super::types::ParseError;

/// Finds `name` among `header`.
pub fn column(header: &[&str], name: &'static str, line: u64) -> Result<usize, ParseError> {
    header
        .iter()
        .position(|h| *h == name)
        .ok_or(ParseError::UnknownHeader { line, column: name })
}

/// The percentile columns (`50%`, `99.9%`, `100%`, …) as `(index, quantile)`, in order.
/// The quantile is computed from the decimal text (`99.9%` → 0.999 exactly as written).
pub fn percentile_columns(header: &[&str]) -> Vec<(usize, f64)> {
    header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let number = h.strip_suffix('%')?;
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return None;
            }
            let q: f64 = format!("{number}e-2").parse().ok()?;
            (q > 0.0 && q <= 1.0).then_some((i, q))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_exact_decimals() {
        let h = ["Type", "50%", "99.9%", "99.99%", "100%", "Requests/s", "x%"];
        let cols = percentile_columns(&h);
        assert_eq!(cols, vec![(1, 0.5), (2, 0.999), (3, 0.9999), (4, 1.0)]);
        assert_eq!(0.999f64.to_string(), "0.999");
    }

    #[test]
    fn missing_column_is_named() {
        let err = column(&["Type"], "Name", 1).unwrap_err();
        assert_eq!(err.to_string(), "line 1: unknown header: no `Name` column");
    }
}
