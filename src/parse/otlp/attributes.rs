//! OTLP attributes as text: one attribute, an integer one, and a set of them as one key.

use super::proto::{KeyValue, Value};
use crate::model::update::cut_chars;

/// Longest attribute value kept, in characters (names are cut further by the model).
pub const MAX_ATTRIBUTE_CHARS: usize = 1024;

/// The string form of an attribute's value.
pub(super) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::StringValue(s) => Some(cut_chars(s, MAX_ATTRIBUTE_CHARS).to_owned()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// The attribute `key` as text.
pub(super) fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .and_then(value_text)
}

/// The attribute `key` as an integer.
pub(super) fn attribute_int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())?
    {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.parse().ok(),
        Value::DoubleValue(d) if d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

/// Attributes as one key, sorted (their order in the request does not matter).
pub(super) fn attributes_key(attributes: &[KeyValue]) -> String {
    let mut pairs: Vec<(&str, String)> = attributes
        .iter()
        .map(|kv| {
            let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
            let text = v.and_then(value_text).unwrap_or_default();
            (cut_chars(&kv.key, MAX_ATTRIBUTE_CHARS), text)
        })
        .collect();
    pairs.sort();
    let mut key = String::new();
    for (k, v) in pairs {
        key.push_str(k);
        key.push('\u{1f}');
        key.push_str(&v);
        key.push('\u{1e}');
    }
    key
}
