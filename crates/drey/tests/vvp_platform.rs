//! VVP's platform resources over HTTP against a real drey server with its
//! SQL engine and real Flink: connectors, formats and catalog connectors
//! (every verb, JSON and YAML, validation), SQL scripts with `:validate` and
//! `:execute` through the engine, catalogs browsed through it, jars uploaded
//! into the artifact store, UDF artifacts whose function classes are read
//! from the jar and used in SQL, and a deployment running an uploaded jar.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{start, testjobs, KillClusters};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SQL: &str = "/sql/v1beta1/namespaces/platform";

fn validation(body: &Value, attribute: &str) {
    assert_eq!(body["kind"], "ApiValidationException", "{body}");
    assert_eq!(body["errors"][0]["attribute"], attribute, "{body}");
}

fn api_exception(body: &Value, status: u16) {
    assert_eq!(body["kind"], "ApiException", "{body}");
    assert_eq!(body["statusCode"], status, "{body}");
}

async fn validate(s: &Server, sql: &str) -> Value {
    let (code, body) = s
        .post(
            &format!("{SQL}/sqlscripts:validate"),
            json!({"statement": sql}),
        )
        .await;
    assert_eq!(code, 200, "{sql}: {body}");
    body
}

async fn execute(s: &Server, sql: &str) -> (u16, Value) {
    s.post(
        &format!("{SQL}/sqlscripts:execute"),
        json!({"statement": sql}),
    )
    .await
}

fn cells(result: &Value) -> Vec<String> {
    result["resultTable"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"][0]["value"].as_str().unwrap().to_owned())
        .collect()
}

async fn upload(s: &Server, ns: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    let response = s
        .client
        .post(s.url(&format!("/artifacts/v1/namespaces/{ns}/artifacts:upload")))
        .bearer_auth(s.token.as_deref().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn platform_resources_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let s = start(dir.path());
    for ns in ["platform", "elsewhere"] {
        let (code, body) = s
            .post("/namespaces/v1/namespaces", json!({"name": ns}))
            .await;
        assert_eq!(code, 201, "{body}");
    }

    // Connectors, formats, catalog connectors: one set of rules.
    for (plural, one, many, ty) in [
        ("connectors", "connector", "connectors", "kafka"),
        ("formats", "format", "formats", "avro"),
        (
            "catalog-connectors",
            "catalogConnector",
            "catalogConnectors",
            "jdbc",
        ),
    ] {
        let path = format!("{SQL}/{plural}");
        let (code, listed) = s.get(&path).await;
        assert_eq!(code, 200, "{listed}");
        let packaged = listed[many].as_array().unwrap();
        assert!(packaged.iter().all(|c| c["packaged"] == true), "{listed}");
        let builtin = packaged[0]["name"].as_str().unwrap().to_owned();
        let body = json!({"name": "my-thing", "type": ty, "properties": [{"key": "topic", "required": true}],
                          "dependencies": ["https://example.com/x.jar"]});
        let (code, created) = s.post(&path, body.clone()).await;
        assert_eq!(code, 201, "{plural}: {created}");
        assert_eq!(created[one]["name"], "my-thing");
        assert_eq!(created[one]["packaged"], false);
        assert_eq!(created[one]["properties"][0]["key"], "topic");
        let (code, dup) = s.post(&path, body).await;
        assert_eq!(code, 409);
        api_exception(&dup, 409);
        let (code, bad) = s.post(&path, json!({"name": "no-type"})).await;
        assert_eq!(code, 400);
        validation(&bad, "type");
        let (code, bad) = s.post(&path, json!({"name": "Bad_Name", "type": ty})).await;
        assert_eq!(code, 400);
        validation(&bad, "name");
        let (code, bad) = s
            .post(
                &path,
                json!({"name": "no-key", "type": ty, "properties": [{"required": true}]}),
            )
            .await;
        assert_eq!(code, 400);
        validation(&bad, "properties[0].key");
        let (code, got) = s.get(&format!("{path}/my-thing")).await;
        assert_eq!(code, 200);
        assert_eq!(got[one]["type"], ty);
        // PUT replaces (200) or creates (201); YAML works both ways.
        let (code, text) = s
            .raw(
                Method::PUT,
                &format!("{path}/my-thing"),
                "application/yaml",
                format!("name: my-thing\ntype: {ty}\nsink: true\n"),
            )
            .await;
        assert_eq!(code, 200, "{text}");
        let (code, _) = s
            .json(
                Method::PUT,
                &format!("{path}/other"),
                Some(json!({"type": ty})),
            )
            .await;
        assert_eq!(code, 201);
        let (code, _) = s
            .json(
                Method::PUT,
                &format!("{path}/{builtin}"),
                Some(json!({"type": ty})),
            )
            .await;
        assert_eq!(code, 409, "packaged ones are read-only");
        let (_, listed) = s.get(&path).await;
        assert_eq!(listed[many].as_array().unwrap().len(), packaged.len() + 2);
        for name in ["my-thing", "other"] {
            let (code, _) = s.delete(&format!("{path}/{name}")).await;
            assert_eq!(code, 200);
        }
        let (code, gone) = s.get(&format!("{path}/my-thing")).await;
        assert_eq!(code, 404);
        api_exception(&gone, 404);
    }

    // SQL scripts are stored; their resource name is qualified.
    let (code, script) = s
        .post(
            &format!("{SQL}/sqlscripts"),
            json!({"name": "namespaces/platform/sqlscripts/orders",
                   "displayName": "Orders", "script": "CREATE TABLE orders (id INT) WITH ('connector' = 'datagen')"}),
        )
        .await;
    assert_eq!(code, 201, "{script}");
    assert_eq!(
        script["sqlScript"]["name"],
        "namespaces/platform/sqlscripts/orders"
    );
    assert!(script["sqlScript"]["createTime"].is_string());
    let (code, bad) = s
        .post(&format!("{SQL}/sqlscripts"), json!({"name": "empty"}))
        .await;
    assert_eq!(code, 400);
    validation(&bad, "script");
    let (code, updated) = s
        .json(
            Method::PUT,
            &format!("{SQL}/sqlscripts/orders"),
            Some(
                json!({"script": script["sqlScript"]["script"], "description": "the orders table"}),
            ),
        )
        .await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["sqlScript"]["description"], "the orders table");
    let (_, scripts) = s.get(&format!("{SQL}/sqlscripts")).await;
    assert_eq!(scripts["sqlScripts"].as_array().unwrap().len(), 1);

    // :validate asks the engine, and changes nothing.
    let before = validate(&s, "SELECT * FROM orders").await;
    assert_eq!(
        before["validationResult"],
        "VALIDATION_RESULT_INVALID_QUERY"
    );
    assert!(
        before["errorDetails"]["message"]
            .as_str()
            .unwrap()
            .contains("orders"),
        "{before}"
    );
    let syntax = validate(&s, "SELECT id FROM orders WHERE").await;
    assert_eq!(
        syntax["validationResult"],
        "VALIDATION_RESULT_INVALID_QUERY"
    );
    assert_eq!(syntax["errorDetails"]["lineNumber"], 1, "{syntax}");
    let ddl = validate(
        &s,
        "CREATE TABLE ghost (a INT) WITH ('connector' = 'datagen')",
    )
    .await;
    assert_eq!(
        ddl["validationResult"],
        "VALIDATION_RESULT_VALID_DDL_STATEMENT"
    );

    // :execute runs DDL for good and commands with their rows.
    let (code, done) = execute(&s, script["sqlScript"]["script"].as_str().unwrap()).await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["result"], "RESULT_SUCCESS", "{done}");
    let (_, done) = execute(
        &s,
        "CREATE TABLE sink (id INT) WITH ('connector' = 'blackhole')",
    )
    .await;
    assert_eq!(done["result"], "RESULT_SUCCESS", "{done}");
    let (_, shown) = execute(&s, "SHOW TABLES").await;
    assert_eq!(shown["result"], "RESULT_SUCCESS_WITH_ROWS", "{shown}");
    assert_eq!(cells(&shown), vec!["orders", "sink"], "no ghost: {shown}");
    let (_, failed) = execute(&s, "DROP TABLE nothing_here").await;
    assert_eq!(failed["result"], "RESULT_ERROR_WITH_DETAILS", "{failed}");
    assert!(failed["errorMessage"]["message"].is_string());
    // A SELECT is previewed on the namespace's preview session cluster, and
    // refused (saying how to set one) while there is none.
    let (code, refused) = execute(&s, "SELECT 1").await;
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused.to_string().contains("setPreviewSessionCluster"),
        "{refused}"
    );
    let set_preview = "/namespaces/v1/namespaces/platform:setPreviewSessionCluster";
    let (code, body) = s
        .post(
            set_preview,
            json!({"previewSessionClusterName": "previewer"}),
        )
        .await;
    assert_eq!(code, 404, "no such session cluster: {body}");
    let (code, body) = s
        .post(
            "/api/v1/namespaces/platform/sessionclusters",
            json!({"metadata": {"name": "previewer"},
                   "spec": {"state": "RUNNING", "numberOfTaskManagers": 1,
                            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"}}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s
        .post(
            set_preview,
            json!({"name": "namespaces/elsewhere", "previewSessionClusterName": "previewer"}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    validation(&body, "name");
    let (code, body) = s
        .post(
            set_preview,
            json!({"name": "namespaces/platform",
                   "previewSessionClusterName": "namespaces/platform/sessionclusters/previewer"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (_, shown) = s.get("/namespaces/v1/namespaces/platform").await;
    assert_eq!(
        shown["namespace"]["previewSessionClusterName"], "previewer",
        "{shown}"
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let previewed = loop {
        let (code, body) = execute(&s, "SELECT id FROM orders").await;
        if code == 200 {
            break body;
        }
        assert_eq!(code, 400, "{body}");
        assert!(body.to_string().contains("not running"), "{body}");
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(
        previewed["result"], "RESULT_SUCCESS_WITH_ROWS",
        "{previewed}"
    );
    let ids = cells(&previewed);
    assert!(!ids.is_empty() && ids.len() <= 100, "{previewed}");
    assert!(ids.iter().all(|id| id.parse::<i64>().is_ok()), "{ids:?}");
    // Cleared, a SELECT is refused again; the session cluster stops.
    let (code, body) = s
        .post(set_preview, json!({"previewSessionClusterName": ""}))
        .await;
    assert_eq!(code, 200, "{body}");
    let (_, shown) = s.get("/namespaces/v1/namespaces/platform").await;
    assert!(shown["namespace"]
        .get("previewSessionClusterName")
        .is_none());
    let (code, _) = execute(&s, "SELECT 1").await;
    assert_eq!(code, 400);
    let (code, body) = s
        .json(
            Method::PATCH,
            "/api/v1/namespaces/platform/sessionclusters/previewer",
            Some(json!({"spec": {"state": "STOPPED"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");

    // :execute-multi runs them in order; after a failure the rest are
    // skipped unless stopOnError=false.
    let multi = format!("{SQL}/sqlscripts:execute-multi");
    let script = json!([
        "CREATE TABLE multi_a (id INT) WITH ('connector' = 'blackhole')",
        "DROP TABLE nothing_here",
        "CREATE TABLE multi_b (id INT) WITH ('connector' = 'blackhole')"
    ]);
    let (code, ran) = s.post(&multi, script.clone()).await;
    assert_eq!(code, 200, "{ran}");
    let results: Vec<&str> = ran["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "RESULT_SUCCESS",
            "RESULT_ERROR_WITH_DETAILS",
            "RESULT_SKIPPED"
        ],
        "{ran}"
    );
    let (_, shown) = execute(&s, "SHOW TABLES").await;
    assert!(!cells(&shown).contains(&"multi_b".to_owned()), "{shown}");
    let (code, ran) = s
        .post(
            &format!("{multi}?stopOnError=false"),
            json!(["DROP TABLE nothing_here", script[2].clone(), "SELECT 1"]),
        )
        .await;
    assert_eq!(code, 200, "{ran}");
    assert_eq!(ran["responses"][1]["result"], "RESULT_SUCCESS", "{ran}");
    assert_eq!(
        ran["responses"][2]["result"], "RESULT_ERROR_WITH_DETAILS",
        "a query is not run here, and says so: {ran}"
    );
    let (_, shown) = execute(&s, "SHOW TABLES").await;
    assert!(cells(&shown).contains(&"multi_b".to_owned()), "{shown}");
    let (code, body) = s.post(&multi, json!({"statement": "SHOW TABLES"})).await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = s.post(&multi, json!(["SHOW TABLES", 7])).await;
    assert_eq!(code, 400, "{body}");
    validation(&body, "statements[1]");

    // What refers to a connector, a format, a catalog connector.
    let (code, refs) = s
        .get(&format!("{SQL}/connectors/blackhole:list-tables"))
        .await;
    assert_eq!(code, 200, "{refs}");
    let mut names: Vec<&str> = refs["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["catalogName"], "default_catalog", "{t}");
            assert_eq!(t["databaseName"], "default_database", "{t}");
            t["tableName"].as_str().unwrap()
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["multi_a", "multi_b", "sink"], "{refs}");
    let (code, refs) = s
        .get(&format!("{SQL}/connectors/datagen:list-tables"))
        .await;
    assert_eq!(code, 200, "{refs}");
    assert_eq!(refs["tables"][0]["tableName"], "orders", "{refs}");
    let (code, refs) = s.get(&format!("{SQL}/formats/csv:list-tables")).await;
    assert_eq!((code, refs.clone()), (200, json!({"tables": []})), "{refs}");
    let (code, refs) = s.get(&format!("{SQL}/connectors/nope:list-tables")).await;
    assert_eq!(code, 404, "{refs}");
    let (code, refs) = s
        .get(&format!(
            "{SQL}/catalog-connectors/generic_in_memory:list-catalogs"
        ))
        .await;
    assert_eq!(code, 200, "{refs}");
    assert!(
        refs["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"]
                .as_str()
                .unwrap()
                .ends_with("/catalogs/default_catalog")),
        "{refs}"
    );

    // :suggest completes keywords and the tables the engine lists.
    let suggest = format!("{SQL}/sqlscripts:suggest");
    let (code, hints) = s
        .post(
            &suggest,
            json!({"sqlScript": "SELECT * FROM mul", "position": 17}),
        )
        .await;
    assert_eq!(code, 200, "{hints}");
    let tables: Vec<&str> = hints["completions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "HINT_TYPE_TABLE")
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["multi_a", "multi_b"], "{hints}");
    let (_, hints) = s
        .post(&suggest, json!({"sqlScript": "sel", "position": 3}))
        .await;
    assert!(
        hints["completions"]
            .as_array()
            .unwrap()
            .contains(&json!({"text": "SELECT", "type": "HINT_TYPE_KEYWORD"})),
        "{hints}"
    );
    let (code, body) = s
        .post(&suggest, json!({"position": -1, "sqlScript": "x"}))
        .await;
    assert_eq!(code, 400, "{body}");
    validation(&body, "position");
    let (_, dropped) = s
        .post(&multi, json!(["DROP TABLE multi_a", "DROP TABLE multi_b"]))
        .await;
    assert_eq!(
        dropped["responses"][1]["result"], "RESULT_SUCCESS",
        "{dropped}"
    );
    for (sql, want) in [
        (
            "SELECT * FROM orders",
            "VALIDATION_RESULT_VALID_SELECT_QUERY",
        ),
        (
            "INSERT INTO sink SELECT id FROM orders",
            "VALIDATION_RESULT_VALID_INSERT_QUERY",
        ),
        ("SHOW TABLES", "VALIDATION_RESULT_VALID_COMMAND_STATEMENT"),
    ] {
        assert_eq!(validate(&s, sql).await["validationResult"], want, "{sql}");
    }

    // Catalogs, browsed through the engine.
    let catalogs = "/catalog/v1beta2/namespaces/platform/catalogs";
    let (code, listed) = s.get(catalogs).await;
    assert_eq!(code, 200);
    assert_eq!(
        listed["catalogs"][0]["name"],
        "namespaces/platform/catalogs/default_catalog"
    );
    let (_, dbs) = s
        .get(&format!("{catalogs}/default_catalog:listDatabases"))
        .await;
    assert_eq!(dbs["databases"], json!([{"name": "default_database"}]));
    let (_, tables) = s
        .get(&format!(
            "{catalogs}/default_catalog:listTables?database=default_database"
        ))
        .await;
    assert_eq!(
        tables["tables"],
        json!([{"name": "orders"}, {"name": "sink"}])
    );
    let (code, table) = s
        .get(&format!("{catalogs}/default_catalog:getTable?table=orders"))
        .await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(table["table"]["schema"]["column"][0]["name"], "id");
    assert_eq!(table["table"]["schema"]["column"][0]["type"], "INT");
    let (code, _) = s
        .get(&format!("{catalogs}/default_catalog:getTable?table=nope"))
        .await;
    assert_eq!(code, 404);
    let (code, _) = s.get(&format!("{catalogs}/no_such_catalog")).await;
    assert_eq!(code, 404);

    // Artifacts: a jar goes in as uploaded; anything else is refused.
    let jar = testjobs().join("bounded-job.jar");
    let bytes = std::fs::read(&jar).unwrap();
    let (code, uploaded) = upload(&s, "platform", "bounded-job.jar", bytes.clone()).await;
    assert_eq!(code, 201, "{uploaded}");
    let uri = uploaded["artifact"]["uri"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read(uri.trim_start_matches("file://")).unwrap(),
        bytes
    );
    let (code, _) = upload(&s, "platform", "notes.txt", b"hello".to_vec()).await;
    assert_eq!(code, 400);
    let (code, _) = upload(&s, "platform", "fake.jar", b"not a zip".to_vec()).await;
    assert_eq!(code, 400);
    let (_, listed) = s.get("/artifacts/v1/namespaces/platform/artifacts").await;
    assert_eq!(listed["artifacts"].as_array().unwrap().len(), 1);

    // A UDF artifact: its function classes come from the jar.
    let (code, bad) = s
        .post(
            &format!("{SQL}/udfartifacts"),
            json!({"name": "upper", "jarUrl": "file:///etc/passwd"}),
        )
        .await;
    assert_eq!(code, 400);
    validation(&bad, "jarUrl");
    let (code, udf) = s
        .post(
            &format!("{SQL}/udfartifacts"),
            json!({"name": "upper", "jarUrl": uri}),
        )
        .await;
    assert_eq!(code, 201, "{udf}");
    assert_eq!(
        udf["udfArtifact"]["udfClasses"],
        json!([{"className": "io.drey.testjobs.PeekFunction", "classType": "UDF_TYPE_SCALAR",
                "functionNames": []},
               {"className": "io.drey.testjobs.UpperCase", "classType": "UDF_TYPE_SCALAR",
                "functionNames": []}]),
        "{udf}"
    );
    assert_eq!(
        udf["udfArtifact"]["name"],
        "namespaces/platform/udfartifacts/upper"
    );
    // ... and the function runs in SQL from the uploaded jar.
    let (_, created) = execute(
        &s,
        &format!("CREATE FUNCTION to_upper AS 'io.drey.testjobs.UpperCase' USING JAR '{uri}'"),
    )
    .await;
    assert_eq!(created["result"], "RESULT_SUCCESS", "{created}");
    let checked = validate(&s, "SELECT to_upper(CAST(id AS STRING)) FROM orders").await;
    assert_eq!(
        checked["validationResult"], "VALIDATION_RESULT_VALID_SELECT_QUERY",
        "{checked}"
    );
    // The same jar named as CMF names artifacts: the upload is version 1
    // of artifact `bounded-job.jar` of this namespace.
    let (_, created) = execute(
        &s,
        "CREATE FUNCTION shout AS 'io.drey.testjobs.UpperCase' \
         USING JAR 'cmf://platform/bounded-job.jar?version=1'",
    )
    .await;
    assert_eq!(created["result"], "RESULT_SUCCESS", "{created}");
    let checked = validate(&s, "SELECT shout(CAST(id AS STRING)) FROM orders").await;
    assert_eq!(
        checked["validationResult"], "VALIDATION_RESULT_VALID_SELECT_QUERY",
        "{checked}"
    );
    for (uri, why) in [
        ("cmf://elsewhere/bounded-job.jar", "environment 'elsewhere'"),
        ("cmf://platform/nope.jar", "no artifact 'nope.jar'"),
        (
            "cmf://platform/bounded-job.jar?version=9",
            "no such version",
        ),
    ] {
        let (_, refused) = execute(
            &s,
            &format!("CREATE FUNCTION nope AS 'io.drey.testjobs.UpperCase' USING JAR '{uri}'"),
        )
        .await;
        assert_ne!(refused["result"], "RESULT_SUCCESS", "{uri}: {refused}");
        assert!(refused.to_string().contains(why), "{uri}: {refused}");
    }
    let (_, functions) = s
        .get(&format!("{catalogs}/default_catalog:listFunctions"))
        .await;
    assert_eq!(
        functions["functions"],
        json!([{"name": "shout"}, {"name": "to_upper"}])
    );

    // What will load a version keeps it: a statement that may still run, by
    // a literal of its SQL, and the catalog's functions (replayed into every
    // session), by `file://` path or `cmf://` URI.
    let bounded = "/cmf/api/v1/environments/platform/artifacts/bounded-job.jar?version=1";
    let env = "/cmf/api/v1/environments/platform";
    let (code, body) = s
        .post(
            &format!("{env}/compute-pools"),
            json!({"metadata": {"name": "holding"}, "spec": {"type": "DEDICATED",
                   "clusterSpec": {"taskManager": {"resource": {"memory": "1g"}}}}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = s
        .post(
            &format!("{env}/statements"),
            json!({"metadata": {"name": "holder"}, "spec": {"computePoolName": "holding",
                   "stopped": true, "statement":
                   "SELECT * FROM (VALUES ('cmf://platform/bounded-job.jar?version=1')) AS t(jar)"}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, holder) = s.get(&format!("{env}/statements/holder")).await;
        if holder["status"]["phase"] == "STOPPED" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{holder}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (code, body) = s.delete(bounded).await;
    assert_eq!(code, 409, "{body}");
    assert!(body.to_string().contains("statement 'holder'"), "{body}");
    let (code, body) = s.delete(&format!("{env}/statements/holder")).await;
    assert!(code < 300, "{body}");
    let (code, body) = s.delete(bounded).await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body.to_string().contains("function:") && body.to_string().contains("to_upper"),
        "{body}"
    );
    let (_, dropped) = execute(&s, "DROP FUNCTION to_upper").await;
    assert_eq!(dropped["result"], "RESULT_SUCCESS", "{dropped}");
    let (code, body) = s.delete(bounded).await;
    assert_eq!(code, 409, "{body}");
    assert!(body.to_string().contains("shout"), "{body}");
    let (_, dropped) = execute(&s, "DROP FUNCTION shout").await;
    assert_eq!(dropped["result"], "RESULT_SUCCESS", "{dropped}");

    // The catalog connectors an uploaded jar brings: testjobs' `drey-test`,
    // read by Flink's own service loading in drey's gateway.
    let analyze = format!("{SQL}/catalog-connectors:analyze-jars");
    let (code, analyzed) = s
        .post(&analyze, json!({"jarUris": [{"jarUri": uri}]}))
        .await;
    assert_eq!(code, 200, "{analyzed}");
    let connectors = analyzed["catalogConnectors"].as_array().unwrap();
    assert_eq!(
        connectors.len(),
        1,
        "Flink's own are not the jar's: {analyzed}"
    );
    let connector = &connectors[0];
    assert_eq!(connector["type"], "drey-test", "{analyzed}");
    assert_eq!(connector["packaged"], false);
    assert_eq!(connector["dependencies"], json!([uri]));
    let properties = connector["properties"].as_array().unwrap();
    let keys: Vec<(&str, bool)> = properties
        .iter()
        .map(|p| (p["key"].as_str().unwrap(), p["required"].as_bool().unwrap()))
        .collect();
    assert_eq!(keys, [("owner", true), ("default-database", false)]);
    assert_eq!(properties[1]["defaultValue"], "main");
    assert!(properties[0]["description"]
        .as_str()
        .unwrap()
        .contains("Who the catalog belongs to"));
    for (bad, attribute) in [
        (
            json!({"jarUris": [{"jarUri": "file:///etc/passwd"}]}),
            "jarUris[0]",
        ),
        (json!({"jarUris": []}), "jarUris"),
        (json!({"jars": ["x"]}), "jarUris"),
    ] {
        let (code, body) = s.post(&analyze, bad.clone()).await;
        assert_eq!(code, 400, "{bad}: {body}");
        validation(&body, attribute);
    }

    // A deployment runs the uploaded jar; another namespace's cannot.
    // Job output outside the data dir, which the sandboxed clusters do not see.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("sum.txt");
    let deployment = |name: &str| {
        json!({"metadata": {"name": name},
               "spec": {"state": "RUNNING", "upgradeStrategy": {"kind": "STATELESS"},
                        "template": {"spec": {"artifact": {
                            "kind": "JAR", "jarUri": uri, "entryClass": "io.drey.testjobs.BoundedJob",
                            "mainArgs": format!("--count 1000 --out {}", out.display())}}}}})
    };
    let (code, body) = s
        .post(
            "/api/v1/namespaces/elsewhere/deployments",
            deployment("thief"),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s
        .post(
            "/api/v1/namespaces/platform/deployments",
            deployment("summer"),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, d) = s
            .get("/api/v1/namespaces/platform/deployments/summer")
            .await;
        if d["status"]["state"] == "FINISHED" {
            break;
        }
        assert!(Instant::now() < deadline, "not FINISHED: {d}\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "sum 500500");

    // Job graphs: the deployment's SQL as Flink's compiled plan, the tables
    // it reads and writes taken from the plan.
    for ddl in [
        "CREATE TABLE jg_in (id INT) WITH ('connector' = 'datagen')",
        "CREATE TABLE jg_out (id INT) WITH ('connector' = 'blackhole')",
    ] {
        let (_, made) = execute(&s, ddl).await;
        assert_eq!(made["result"], "RESULT_SUCCESS", "{made}");
    }
    let graphs = "/sql/v1beta1/namespaces/platform/deployments/summer";
    let (code, made) = s
        .post(
            &format!("{graphs}:create-jobgraph"),
            json!({"sqlStatement": "INSERT INTO jg_out SELECT id FROM jg_in",
                   "fullFlinkConfiguration": {"parallelism.default": "1"}}),
        )
        .await;
    assert_eq!(code, 200, "{made}");
    let graph = &made["jobgraph"];
    assert_eq!(graph["state"], "JOBGRAPH_STATE_COMPLETED", "{made}");
    let table = |name: &str| {
        json!([{"catalogName": "default_catalog", "databaseName": "default_database",
                "tableName": name, "temporary": false}])
    };
    assert_eq!(graph["sourceTables"], table("jg_in"), "{made}");
    assert_eq!(graph["sinkTables"], table("jg_out"), "{made}");
    let plan_path = graph["jobgraphPath"].as_str().unwrap();
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(plan_path.trim_start_matches("file://")).unwrap(),
    )
    .unwrap();
    assert!(plan["nodes"].as_array().unwrap().len() >= 2, "{plan}");
    // A statement Flink cannot plan is a FAILED job graph saying why.
    let (code, refused) = s
        .post(
            &format!("{graphs}:create-jobgraph"),
            json!({"sqlStatement": "INSERT INTO jg_out SELECT nope FROM jg_in"}),
        )
        .await;
    assert_eq!(code, 200, "{refused}");
    assert_eq!(refused["jobgraph"]["state"], "JOBGRAPH_STATE_FAILED");
    assert!(
        refused["jobgraph"]["errorDetails"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{refused}"
    );
    for (path, body, code) in [
        (
            "/sql/v1beta1/namespaces/platform/deployments/ghost:create-jobgraph",
            json!({"sqlStatement": "INSERT INTO jg_out SELECT id FROM jg_in"}),
            404,
        ),
        (
            &format!("{graphs}:create-jobgraph")[..],
            json!({"sql": "x"}),
            400,
        ),
        (&format!("{graphs}:create-jobgraph")[..], json!({}), 400),
    ] {
        let (got, body) = s.post(path, body).await;
        assert_eq!(got, code, "{path}: {body}");
    }
    let (code, deleted) = s.delete(&format!("{graphs}:delete-jobgraphs")).await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(
        deleted,
        json!({"deletedJobGraphs": [{"notDeletedFiles": []}]}),
        "one graph was kept"
    );
    assert!(!std::path::Path::new(plan_path.trim_start_matches("file://")).exists());
    let (_, app) = s
        .get("/cmf/api/v1/environments/elsewhere/applications/thief")
        .await;
    assert!(
        app["status"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("artifact of another environment"),
        "{app}"
    );

    // Deleting an artifact: refused while a deployment runs from it (the
    // store CMF artifacts share), done once the deployment is gone.
    let artifact = "/artifacts/v1/namespaces/platform/artifacts?filename=bounded-job.jar";
    let (code, body) = s.delete(artifact).await;
    assert_eq!(code, 409, "{body}");
    assert!(body.to_string().contains("summer"), "{body}");
    let summer = "/api/v1/namespaces/platform/deployments/summer";
    let (code, body) = s
        .json(
            reqwest::Method::PATCH,
            summer,
            Some(json!({"spec": {"state": "CANCELLED"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, body) = s.delete(summer).await;
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "summer not deleted: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (code, body) = s.delete(artifact).await;
    assert_eq!(code, 200, "{body}");
    assert!(!std::path::Path::new(uri.trim_start_matches("file://")).exists());
}
