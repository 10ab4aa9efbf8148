//! What of a stored status a dialect may show. The reconciler keeps its own
//! bookkeeping in the status (cluster ids, trigger ids, local paths); no
//! dialect's view carries it.

use serde_json::Value;

/// Status keys only drey itself reads.
pub const INTERNAL_STATUS_KEYS: [&str; 1] = ["reconciler"];

/// `status` without drey's internal records; `null` stays `null`.
pub fn public_status(status: &Value) -> Value {
    match status {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !INTERNAL_STATUS_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reconcilers_record_is_left_out() {
        let status = json!({"phase": "RUNNING", "reconciler": {"clusterId": "c1"}});
        assert_eq!(public_status(&status), json!({"phase": "RUNNING"}));
        assert_eq!(public_status(&Value::Null), Value::Null);
    }
}
