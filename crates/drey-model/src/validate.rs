//! Validation of the specs drey acts on, one function per kind. Field names in
//! errors are full paths so a client can point at the offending line.

use crate::error::Error;
use serde_json::{Map, Value};

/// Checks that `value` is a map of strings.
pub fn string_map(field: &str, value: &Value) -> Result<(), Error> {
    let ok = value
        .as_object()
        .map(|m| m.values().all(Value::is_string))
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be a map of strings to strings"))
    }
}

fn object<'a>(field: &str, value: &'a Value) -> Result<&'a Map<String, Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| Error::invalid(field, "must be an object"))
}

fn required<'a>(field: &str, map: &'a Map<String, Value>, key: &str) -> Result<&'a Value, Error> {
    map.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| Error::invalid(format!("{field}.{key}"), "is required"))
}

fn non_empty_string<'a>(field: &str, value: &'a Value) -> Result<&'a str, Error> {
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(Error::invalid(field, "must not be empty")),
        None => Err(Error::invalid(field, "must be a string")),
    }
}

/// A compute pool's spec: `type` DEDICATED or SHARED, `clusterSpec` an object.
pub fn compute_pool_spec(spec: &Value) -> Result<(), Error> {
    let spec = object("spec", spec)?;
    let kind = non_empty_string("spec.type", required("spec", spec, "type")?)?;
    if !matches!(kind, "DEDICATED" | "SHARED") {
        return Err(Error::invalid(
            "spec.type",
            format!("must be 'DEDICATED' or 'SHARED', not '{kind}'"),
        ));
    }
    let cluster = object("spec.clusterSpec", required("spec", spec, "clusterSpec")?)?;
    if let Some(conf) = cluster.get("flinkConfiguration").filter(|v| !v.is_null()) {
        crate::flink_options::check_user_configuration(
            "spec.clusterSpec.flinkConfiguration",
            conf,
        )?;
    }
    if let Some(state) = spec.get("state").filter(|v| !v.is_null()) {
        match state.as_str() {
            Some("RUNNING" | "SUSPENDED") if kind == "SHARED" => {}
            Some("RUNNING" | "SUSPENDED") => {
                return Err(Error::invalid(
                    "spec.state",
                    "can only be set for a SHARED compute pool",
                ))
            }
            _ => {
                return Err(Error::invalid(
                    "spec.state",
                    format!("must be 'RUNNING' or 'SUSPENDED', not {state}"),
                ))
            }
        }
    }
    Ok(())
}

/// A statement's spec.
pub fn statement_spec(spec: &Value) -> Result<(), Error> {
    let spec = object("spec", spec)?;
    non_empty_string("spec.statement", required("spec", spec, "statement")?)?;
    non_empty_string(
        "spec.computePoolName",
        required("spec", spec, "computePoolName")?,
    )?;
    for key in ["properties", "flinkConfiguration"] {
        if let Some(v) = spec.get(key).filter(|v| !v.is_null()) {
            string_map(&format!("spec.{key}"), v)?;
            crate::flink_options::check_user_configuration(&format!("spec.{key}"), v)?;
        }
    }
    if let Some(p) = spec.get("parallelism").filter(|v| !v.is_null()) {
        if p.as_u64()
            .filter(|n| *n >= 1 && *n <= i32::MAX as u64)
            .is_none()
        {
            return Err(Error::invalid(
                "spec.parallelism",
                format!("must be a positive integer, not {p}"),
            ));
        }
    }
    if let Some(s) = spec.get("stopped").filter(|v| !v.is_null()) {
        if !s.is_boolean() {
            return Err(Error::invalid("spec.stopped", "must be true or false"));
        }
    }
    Ok(())
}

/// A secret mapping's spec: the name of the secret it maps.
pub fn secret_mapping_spec(spec: &Value) -> Result<String, Error> {
    let spec = object("spec", spec)?;
    Ok(non_empty_string("spec.secretName", required("spec", spec, "secretName")?)?.to_owned())
}

/// A Kafka catalog's spec.
pub fn kafka_catalog_spec(spec: &Value) -> Result<(), Error> {
    let spec = object("spec", spec)?;
    let sr = object("spec.srInstance", required("spec", spec, "srInstance")?)?;
    string_map(
        "spec.srInstance.connectionConfig",
        required("spec.srInstance", sr, "connectionConfig")?,
    )?;
    if let Some(id) = sr.get("connectionSecretId").filter(|v| !v.is_null()) {
        non_empty_string("spec.srInstance.connectionSecretId", id)?;
    }
    let clusters = required("spec", spec, "kafkaClusters")?
        .as_array()
        .ok_or_else(|| Error::invalid("spec.kafkaClusters", "must be a list"))?;
    for (i, cluster) in clusters.iter().enumerate() {
        let field = format!("spec.kafkaClusters[{i}]");
        let cluster = object(&field, cluster)?;
        non_empty_string(
            &format!("{field}.databaseName"),
            required(&field, cluster, "databaseName")?,
        )?;
        string_map(
            &format!("{field}.connectionConfig"),
            required(&field, cluster, "connectionConfig")?,
        )?;
        if let Some(id) = cluster.get("connectionSecretId").filter(|v| !v.is_null()) {
            non_empty_string(&format!("{field}.connectionSecretId"), id)?;
        }
    }
    Ok(())
}

/// `spec` of a KafkaDatabase: `kafkaCluster.connectionConfig` (strings),
/// `kafkaCluster.connectionSecretId` and `ddlEnvironments` (names) when given.
pub fn kafka_database_spec(spec: &Value) -> Result<(), Error> {
    let spec = object("spec", spec)?;
    let cluster = object("spec.kafkaCluster", required("spec", spec, "kafkaCluster")?)?;
    string_map(
        "spec.kafkaCluster.connectionConfig",
        required("spec.kafkaCluster", cluster, "connectionConfig")?,
    )?;
    if let Some(id) = cluster.get("connectionSecretId").filter(|v| !v.is_null()) {
        non_empty_string("spec.kafkaCluster.connectionSecretId", id)?;
    }
    if let Some(envs) = spec.get("ddlEnvironments").filter(|v| !v.is_null()) {
        let envs = envs
            .as_array()
            .ok_or_else(|| Error::invalid("spec.ddlEnvironments", "must be a list of names"))?;
        for (i, env) in envs.iter().enumerate() {
            non_empty_string(&format!("spec.ddlEnvironments[{i}]"), env)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(r: Result<(), Error>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn compute_pools() {
        compute_pool_spec(&json!({"type": "DEDICATED", "clusterSpec": {}})).unwrap();
        assert_eq!(
            field_of(compute_pool_spec(&json!({"clusterSpec": {}}))),
            "spec.type"
        );
        assert_eq!(
            field_of(compute_pool_spec(
                &json!({"type": "BIG", "clusterSpec": {}})
            )),
            "spec.type"
        );
        assert_eq!(
            field_of(compute_pool_spec(
                &json!({"type": "SHARED", "clusterSpec": 1})
            )),
            "spec.clusterSpec"
        );
    }

    #[test]
    fn statements() {
        statement_spec(&json!({"statement": "SELECT 1", "computePoolName": "pool"})).unwrap();
        assert_eq!(
            field_of(statement_spec(&json!({"computePoolName": "pool"}))),
            "spec.statement"
        );
        assert_eq!(
            field_of(statement_spec(
                &json!({"statement": "x", "computePoolName": "p", "parallelism": 0})
            )),
            "spec.parallelism"
        );
        assert_eq!(
            field_of(statement_spec(
                &json!({"statement": "x", "computePoolName": "p", "properties": {"a": 1}})
            )),
            "spec.properties"
        );
    }

    #[test]
    fn catalogs() {
        let ok = json!({"srInstance": {"connectionConfig": {"schema.registry.url": "http://sr"}},
                        "kafkaClusters": [{"databaseName": "db", "connectionConfig": {}}]});
        kafka_catalog_spec(&ok).unwrap();
        let bad = json!({"srInstance": {"connectionConfig": {}},
                         "kafkaClusters": [{"connectionConfig": {}}]});
        assert_eq!(
            field_of(kafka_catalog_spec(&bad)),
            "spec.kafkaClusters[0].databaseName"
        );
    }
}
