//! drey's own OpenAPI document of its CMF dialect (`GET /cmf/openapi.json`,
//! built from `drey-api/src/openapi/cmf.rs`), checked against CMF 2.3.1's
//! document (`tests/data/cmf/openapi.yaml`, see its README) and walked
//! against a running server: every operation CMF documents is in drey's
//! document with CMF's schemas and statuses, and answers a well-formed
//! request with a status CMF lists and a body in CMF's shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{application, Server};
use reqwest::Method;
use serde_json::{json, Value};

/// Where drey answers a status the SDK's document does not list: the success
/// statuses the CMF documentation drey follows gives, and refusing to delete
/// an environment that still holds objects. Method, path, status.
const DEVIATIONS: &[(&str, &str, u16)] = &[
    ("POST", "/cmf/api/v1/environments", 201),
    ("DELETE", "/cmf/api/v1/environments/{envName}", 200),
    ("DELETE", "/cmf/api/v1/environments/{envName}", 409),
    (
        "DELETE",
        "/cmf/api/v1/environments/{envName}/applications/{appName}",
        200,
    ),
];

/// The paths drey documents beyond CMF 2.3.1: CMF 2.4's artifacts and the
/// manifests drey renders.
fn is_addition(path: &str) -> bool {
    path.contains("/artifacts") || path.ends_with("/manifest")
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// CMF's document.
fn cmf() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cmf/openapi.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every (METHOD, path) of a document with its operation object.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                ops.insert((method.to_ascii_uppercase(), path.clone()), op.clone());
            }
        }
    }
    ops
}

/// The schema a request body or a response names (`$ref`'s last part).
fn named(content: &Value) -> Option<String> {
    content
        .as_object()?
        .values()
        .find_map(|c| c["schema"]["$ref"].as_str())
        .map(|r| r.rsplit('/').next().unwrap().to_owned())
}

/// A schema's top-level properties and required names, its `allOf` parts merged.
fn shape(doc: &Value, name: &str) -> (BTreeMap<String, Value>, BTreeSet<String>) {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    let (mut properties, mut required) = (BTreeMap::new(), BTreeSet::new());
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r) = shape(
            doc,
            part["$ref"].as_str().unwrap().rsplit('/').next().unwrap(),
        );
        properties.extend(p);
        required.extend(r);
    }
    if let Some(p) = schema["properties"].as_object() {
        properties.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        required.insert(r.as_str().unwrap().to_owned());
    }
    (properties, required)
}

/// What kind of value a property schema describes: a type, `[item]` for an
/// array, `object` for a reference.
fn kind(property: &Value) -> String {
    if property.get("$ref").is_some() {
        return "object".into();
    }
    match property["type"].as_str() {
        Some("array") => format!("[{}]", kind(&property["items"])),
        Some(t) => t.to_owned(),
        None => "object".into(),
    }
}

/// Problems of `body` against CMF's schema `name`: keys CMF does not define,
/// required keys missing, and the same for each item of an `items` array.
fn misfits(cmf: &Value, name: &str, body: &Value) -> Vec<String> {
    let (properties, required) = shape(cmf, name);
    let Some(fields) = body.as_object() else {
        return vec![format!("{name}: not an object: {body}")];
    };
    let mut wrong: Vec<String> = fields
        .keys()
        .filter(|k| !properties.contains_key(*k))
        .map(|k| format!("{name}: `{k}` is not in CMF's schema"))
        .chain(
            required
                .iter()
                .filter(|r| !fields.contains_key(*r))
                .map(|r| format!("{name}: required `{r}` is missing")),
        )
        .collect();
    let item = properties
        .get("items")
        .and_then(|p| p["items"]["$ref"].as_str())
        .map(|r| r.rsplit('/').next().unwrap().to_owned());
    if let (Some(item), Some(items)) = (item, body["items"].as_array()) {
        for i in items {
            wrong.extend(misfits(cmf, &item, i));
        }
    }
    wrong
}

#[tokio::test]
async fn drey_documents_every_cmf_operation_as_cmf_does() {
    let dir = tempfile::tempdir().unwrap();
    // Served without a token, like the VVP documents.
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let response = s
        .client
        .get(s.url("/cmf/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let drey: Value = response.json().await.unwrap();
    assert!(drey["openapi"].as_str().unwrap().starts_with("3."));
    assert!(drey["components"]["securitySchemes"]["bearer"].is_object());
    let cmf = cmf();
    let ours = operations(&drey);
    let theirs = operations(&cmf);
    assert_eq!(theirs.len(), 64, "CMF 2.3.1 has 64 operations");

    let mut wrong = Vec::new();
    for ((method, path), op) in &theirs {
        let Some(mine) = ours.get(&(method.clone(), path.clone())) else {
            wrong.push(format!("{method} {path}: not in drey's document"));
            continue;
        };
        if named(&mine["requestBody"]["content"]) != named(&op["requestBody"]["content"]) {
            wrong.push(format!("{method} {path}: another request body than CMF's"));
        }
        let listed: BTreeSet<u16> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|c| c.parse().unwrap())
            .collect();
        let deviations: Vec<u16> = DEVIATIONS
            .iter()
            .filter(|(m, p, _)| m == method && p == path)
            .map(|(_, _, code)| *code)
            .collect();
        for (code, response) in mine["responses"].as_object().unwrap() {
            let code: u16 = code.parse().unwrap();
            // 401/403 with tokens on, 304 for a conditional GET: HTTP's own.
            let allowed = listed.contains(&code)
                || [401, 403].contains(&code)
                || (code == 304 && method == "GET")
                || deviations.contains(&code);
            if !allowed {
                wrong.push(format!("{method} {path}: {code} is not one CMF lists"));
            }
            // A success names CMF's schema for it (or CMF's first success's).
            if (200..300).contains(&code) {
                let cmf_success = op["responses"]
                    .get(code.to_string())
                    .or_else(|| op["responses"].as_object().unwrap().values().next())
                    .unwrap();
                if named(&response["content"]) != named(&cmf_success["content"]) {
                    wrong.push(format!("{method} {path}: {code} names another schema"));
                }
            }
        }
    }
    for (method, path) in ours.keys() {
        if !theirs.contains_key(&(method.clone(), path.clone())) && !is_addition(path) {
            wrong.push(format!(
                "{method} {path}: neither CMF's nor a known addition"
            ));
        }
    }
    // Each shape drey names has CMF's properties, of CMF's kinds.
    for (name, schema) in drey["components"]["schemas"].as_object().unwrap() {
        if cmf["components"]["schemas"].get(name).is_none() {
            assert!(name.starts_with("Artifact"), "{name} is not CMF's");
            continue;
        }
        let (properties, required) = shape(&cmf, name);
        for (property, described) in schema["properties"].as_object().unwrap() {
            match properties.get(property) {
                None => wrong.push(format!("{name}.{property}: not in CMF's schema")),
                Some(theirs) if kind(theirs) != kind(described) => wrong.push(format!(
                    "{name}.{property}: {} where CMF has {}",
                    kind(described),
                    kind(theirs)
                )),
                Some(_) => {}
            }
        }
        let mine: BTreeSet<String> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        if mine != required {
            wrong.push(format!("{name}: requires {mine:?}, CMF {required:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The Swagger UI offers it beside VVP's.
    let (code, config) = s.text("/swagger/swagger-initializer.js").await;
    assert_eq!(code, 200);
    assert!(config.contains("/cmf/openapi.json"), "{config}");
}

/// Walks every operation of drey's document that CMF documents with a
/// well-formed request against objects that exist (each path parameter names
/// one the walk made): each answers a status CMF lists for it, a success in
/// CMF's shape, and no path or method is unknown to drey. Creations go first,
/// then reads and updates, then deletions, children before parents.
#[tokio::test]
async fn every_documented_operation_answers_as_cmf_documents() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (code, drey) = s.get("/cmf/openapi.json").await;
    assert_eq!(code, 200);
    let cmf = cmf();
    // The shape check finds what it should.
    assert_eq!(
        misfits(
            &cmf,
            "EnvironmentsPage",
            &json!({"items": [{"nme": "x"}], "total": 1})
        ),
        [
            "EnvironmentsPage: `total` is not in CMF's schema",
            "Environment: `nme` is not in CMF's schema",
            "Environment: required `kubernetesNamespace` is missing",
            "Environment: required `name` is missing",
        ]
    );
    let theirs = operations(&cmf);
    let walked: Vec<(String, String)> = operations(&drey)
        .into_keys()
        .filter(|key| theirs.contains_key(key))
        .collect();
    assert_eq!(
        walked.len(),
        theirs.len(),
        "drey documents every CMF operation"
    );

    let values = [
        ("{envName}", "walk-env"),
        ("{appName}", "walk-app"),
        ("{instName}", "0b9f8a5e-0000-0000-0000-000000000000"),
        ("{name}", "walk-mapping"),
        ("{stmtName}", "walk-stmt"),
        ("{computePoolName}", "walk-pool"),
        ("{secretName}", "walk-secret"),
        ("{catName}", "walk-cat"),
        ("{dbName}", "walk-db"),
        ("{savepointName}", "walk-sp"),
        ("{detachedSavepointName}", "walk-detached"),
        ("{kubernetesClusterName}", "walk-k8s"),
    ];
    let fill = |path: &str| {
        values
            .iter()
            .fold(path.to_owned(), |p, (param, value)| p.replace(param, value))
    };
    // The body a creation (POST to a collection) sends, by collection.
    let created = |path: &str| -> Value {
        let name = |n: &str| json!({"name": n});
        match path.rsplit('/').next().unwrap() {
            "environments" => json!({"name": "walk-env"}),
            "applications" => application("walk-app"),
            "secret-mappings" => json!({"metadata": name("walk-mapping"),
                "spec": {"secretName": "walk-secret"}}),
            "statements" => json!({"metadata": name("walk-stmt"),
                "spec": {"statement": "SELECT 1", "computePoolName": "walk-pool"}}),
            "compute-pools" => json!({"metadata": name("walk-pool"),
                "spec": {"type": "DEDICATED",
                         "clusterSpec": {"taskManager": {"resource": {"memory": "1g"}}}}}),
            "secrets" => json!({"metadata": name("walk-secret"),
                "spec": {"data": {"username": "u"}}}),
            "kafka" => json!({"metadata": name("walk-cat"),
                "spec": {"srInstance": {"connectionConfig": {"schema.registry.url": "http://sr:8081"}},
                         "kafkaClusters": []}}),
            "databases" => json!({"metadata": name("walk-db"),
                "spec": {"kafkaCluster": {"connectionConfig": {"bootstrap.servers": "k:9092"}}}}),
            "savepoints" => json!({"metadata": name("walk-sp"), "spec": {}}),
            "detached-savepoints" => json!({"metadata": name("walk-detached"),
                "spec": {"path": "file:///savepoints/walk"}}),
            other => panic!("no creation body for {other}"),
        }
    };
    let is_creation = |method: &str, path: &str| {
        method == "POST"
            && !path.ends_with('}')
            && !["/start", "/suspend", "/detach"]
                .iter()
                .any(|verb| path.ends_with(verb))
    };
    // Creations in the order their objects depend on one another.
    let rank = |path: &str| {
        [
            "/environments",
            "/secrets",
            "/secret-mappings",
            "/compute-pools",
            "/applications",
            "/statements",
            "/kafka",
            "/databases",
            "/savepoints",
        ]
        .iter()
        .position(|end| path.ends_with(end))
        .unwrap_or(usize::MAX)
    };
    let mut order: Vec<&(String, String)> =
        walked.iter().filter(|(m, p)| is_creation(m, p)).collect();
    order.sort_by_key(|(_, p)| rank(p));
    order.extend(
        walked
            .iter()
            .filter(|(m, p)| !is_creation(m, p) && m != "DELETE"),
    );
    // Deletions children first: by the rank of their collection, reversed.
    let mut deletions: Vec<&(String, String)> =
        walked.iter().filter(|(m, _)| m == "DELETE").collect();
    deletions.sort_by_key(|(_, p)| {
        let collection = p.rsplit_once('/').map_or(p.as_str(), |(c, _)| c);
        std::cmp::Reverse(rank(collection))
    });
    order.extend(deletions);
    assert_eq!(order.len(), walked.len());

    let mut answers = Vec::new();
    let mut wrong = Vec::new();
    for (method, template) in order {
        let path = fill(template);
        let body = match method.as_str() {
            "POST" if is_creation(method, template) => Some(created(template)),
            "POST" => Some(json!({})),
            // An update sends back what a read gives.
            "PUT" => Some(s.get(&path).await.1),
            _ => None,
        };
        let (status, reply) = s
            .json(Method::from_bytes(method.as_bytes()).unwrap(), &path, body)
            .await;
        let op = &theirs[&(method.clone(), template.clone())];
        let deviation = DEVIATIONS
            .iter()
            .any(|(m, p, code)| m == method && p == template && *code == status);
        if op["responses"].get(status.to_string()).is_none() && !deviation {
            wrong.push(format!(
                "{method} {path}: {status} is not one CMF lists: {reply}"
            ));
        }
        let unknown = reply["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Resource not found: [") || m.contains("not supported"));
        if unknown {
            wrong.push(format!("{method} {path}: drey does not serve it: {reply}"));
        }
        // A success's body in CMF's shape for it; an error's in RestError's.
        let schema = if (200..300).contains(&status) {
            let success = op["responses"]
                .get(status.to_string())
                .or_else(|| op["responses"].as_object().unwrap().values().next())
                .unwrap();
            named(&success["content"])
        } else {
            Some("RestError".to_owned())
        };
        if let (Some(schema), false) = (schema, reply.is_null()) {
            wrong.extend(
                misfits(&cmf, &schema, &reply)
                    .into_iter()
                    .map(|m| format!("{method} {path}: {m}")),
            );
        }
        answers.push(format!("{method} {template} -> {status}"));
    }
    println!("{}", answers.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
