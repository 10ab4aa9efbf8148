//! Small operations on JSON documents that several layers need.

use serde_json::{Map, Value};

/// The deepest nesting a request document may have. Deeper documents are
/// refused before they reach any handler (they are never legitimate specs).
pub const MAX_DEPTH: usize = 64;

/// Nesting depth of a document (a scalar is 0, `{}` or `[]` is 1).
pub fn depth(value: &Value) -> usize {
    // Iterative, so a hostile document cannot overflow the stack here.
    let mut max = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Object(map) => {
                max = max.max(d + 1);
                stack.extend(map.values().map(|c| (c, d + 1)));
            }
            Value::Array(items) => {
                max = max.max(d + 1);
                stack.extend(items.iter().map(|c| (c, d + 1)));
            }
            _ => max = max.max(d),
        }
    }
    max
}

/// Deep-merges `overlay` onto `base`: objects merge key by key, anything else
/// in `overlay` replaces what `base` had. `null` in `overlay` is ignored.
pub fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) if !o.is_null() => *b = o.clone(),
        _ => {}
    }
}

/// Looks up a dotted path (`job.parallelism`) in a document.
pub fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

/// The object at `value`, or an empty one.
pub fn as_object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// A JSON object of settings as strings (`flinkConfiguration`, `properties`):
/// strings as they are, other values in their JSON text; anything else empty.
pub fn string_map(value: Option<&Value>) -> std::collections::BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": 2}]})), 3);
    }

    #[test]
    fn merge_overlay_wins_and_keeps_the_rest() {
        let mut base = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        deep_merge(&mut base, &json!({"b": {"c": 9}, "e": [2], "f": null}));
        assert_eq!(base, json!({"a": 1, "b": {"c": 9, "d": 3}, "e": [2]}));
    }
}
