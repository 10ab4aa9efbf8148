//! LakeSail Flink sessions and session jobs over HTTP against a real drey
//! server in token mode (API only: the clusters themselves are exercised in
//! lakesail_flink.rs): every operation with its success and error codes,
//! paging, the session seen as a CMF compute pool and VVP SessionCluster,
//! and another organization's token answered 404 everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

struct Caller<'a> {
    s: &'a Server,
    token: String,
}

impl Caller<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .s
            .client
            .request(method, self.s.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }
}

/// An organization's administrator key, made with the root key.
async fn org_admin<'a>(s: &'a Server, root: &str, name: &str) -> Caller<'a> {
    let root = Caller {
        s,
        token: root.to_owned(),
    };
    let (_, org) = root
        .call(
            Method::POST,
            "/api/admin/v1/organizations",
            Some(json!({"name": name})),
        )
        .await;
    let (code, key) = root
        .call(
            Method::POST,
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            Some(json!({})),
        )
        .await;
    assert_eq!(code, 201, "{key}");
    Caller {
        s,
        token: key["key"].as_str().unwrap().to_owned(),
    }
}

fn session_spec(name: &str) -> Value {
    json!({
        "name": name, "runtime": "FLINK_1_17",
        "jars": ["local:///opt/jobs/job.jar"], "plugins": [],
        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
        "logConfiguration": {"log4j-console.properties": "rootLogger.level = INFO"},
        "jobManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
        "taskManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"}
    })
}

#[tokio::test]
async fn sessions_and_session_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let root = std::fs::read_to_string(dir.path().join("root.key"))
        .unwrap()
        .trim()
        .to_owned();
    let acme = org_admin(&s, &root, "acme").await;
    let globex = org_admin(&s, &root, "globex").await;
    let (_, ws) = acme
        .call(
            Method::POST,
            "/api/org/v1/workspaces",
            Some(json!({"name": "Streaming"})),
        )
        .await;
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let sessions = format!("/api/flink/v1/workspaces/{ws_id}/sessions");

    // Create: 201 with the summary; ids are ResourceIds.
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        let (code, session) = acme
            .call(Method::POST, &sessions, Some(session_spec(name)))
            .await;
        assert_eq!(code, 201, "{session}");
        assert_eq!(session["name"], name);
        assert_eq!(session["state"], "PENDING");
        for field in ["createdAt", "updatedAt"] {
            assert!(session[field].is_string(), "{field}: {session}");
        }
        let id = session["id"].as_str().unwrap().to_owned();
        assert!(
            id.len() <= 20
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        ids.push(id);
    }
    for field in ["name", "runtime", "jars", "jobManagerResource"] {
        let mut spec = session_spec("bad");
        spec.as_object_mut().unwrap().remove(field);
        let (code, body) = acme.call(Method::POST, &sessions, Some(spec)).await;
        assert_eq!(code, 400, "{field}: {body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{body}");
    }

    // List: paged by limit and an opaque marker, marker absent at the end.
    let (code, first) = acme
        .call(Method::GET, &format!("{sessions}?limit=2"), None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let marker = first["marker"].as_str().unwrap();
    let (_, rest) = acme
        .call(
            Method::GET,
            &format!("{sessions}?limit=2&marker={marker}"),
            None,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("marker").is_none(), "{rest}");
    for bad in ["limit=0", "limit=101", "marker=nonsense"] {
        let (code, body) = acme
            .call(Method::GET, &format!("{sessions}?{bad}"), None)
            .await;
        assert_eq!(code, 400, "{bad}: {body}");
    }

    // Describe with the spec; PATCH merges into it and sets the state.
    let one = format!("{sessions}/{}", ids[0]);
    let (code, described) = acme.call(Method::GET, &one, None).await;
    assert_eq!(code, 200);
    assert_eq!(described["spec"]["runtime"], "FLINK_1_17");
    let (code, patched) = acme
        .call(
            Method::PATCH,
            &one,
            Some(json!({"state": "SUSPENDED",
                        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": null, "a": "b"}})),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["desiredState"], "SUSPENDED");
    let (_, described) = acme.call(Method::GET, &one, None).await;
    assert_eq!(
        described["spec"]["flinkConfiguration"],
        json!({"a": "b"}),
        "{described}"
    );
    let (code, _) = acme
        .call(Method::PATCH, &one, Some(json!({"state": "PAUSED"})))
        .await;
    assert_eq!(code, 400);
    let (code, _) = acme
        .call(Method::PATCH, &one, Some(json!({"runtime": null})))
        .await;
    assert_eq!(code, 400, "a required field cannot be removed");

    // The session is a CMF compute pool and a VVP SessionCluster.
    let env = format!("ws-{}", ws_id.to_ascii_lowercase());
    let pool = format!(
        "/cmf/api/v1/environments/{env}/compute-pools/session-{}",
        ids[0].to_ascii_lowercase()
    );
    let (code, body) = acme.call(Method::GET, &pool, None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["type"], "SHARED");
    let (code, body) = acme
        .call(
            Method::GET,
            &format!(
                "/api/v1/namespaces/{env}/sessionclusters/session-{}",
                ids[1].to_ascii_lowercase()
            ),
            None,
        )
        .await;
    assert_eq!(code, 200, "{body}");

    // Session jobs.
    let jobs = format!("{one}/jobs");
    let (code, body) = acme
        .call(
            Method::POST,
            &jobs,
            Some(json!({"name": "x", "job": {"entryClass": "a.B"}})),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("flinkConfiguration"));
    let (code, job) = acme
        .call(
            Method::POST,
            &jobs,
            Some(
                json!({"name": "Example Flink Session Job", "flinkConfiguration": {},
                        "job": {"entryClass": "com.example.flink.Job", "args": []}}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    assert_eq!(job["name"], "Example Flink Session Job");
    let job_path = format!("{jobs}/{}", job["id"].as_str().unwrap());
    let (code, described) = acme.call(Method::GET, &job_path, None).await;
    assert_eq!(code, 200);
    assert_eq!(
        described["spec"]["job"]["entryClass"],
        "com.example.flink.Job"
    );
    // The job runs the session's jar (it names none).
    let (_, app) = acme
        .call(
            Method::GET,
            &format!(
                "/cmf/api/v1/environments/{env}/applications/job-{}",
                job["id"].as_str().unwrap().to_ascii_lowercase()
            ),
            None,
        )
        .await;
    assert_eq!(app["spec"]["job"]["jarURI"], "local:///opt/jobs/job.jar");
    let (_, listed) = acme.call(Method::GET, &jobs, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, other_listed) = acme
        .call(Method::GET, &format!("{sessions}/{}/jobs", ids[1]), None)
        .await;
    assert_eq!(other_listed["items"], json!([]));
    let (code, _) = acme
        .call(
            Method::GET,
            &format!("{sessions}/{}/jobs/{}", ids[1], job["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(code, 404, "a job is found under its own session only");
    let (code, body) = acme
        .call(
            Method::PATCH,
            &job_path,
            Some(json!({"state": "SUSPENDED"})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["desiredState"], "SUSPENDED");
    // PATCH merges into the job's spec; the state stays as it was.
    let (code, body) = acme
        .call(
            Method::PATCH,
            &job_path,
            Some(json!({"flinkConfiguration": {"pipeline.name": "renamed"},
                        "job": {"args": ["--rate", "5"]}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["desiredState"], "SUSPENDED");
    let (_, described) = acme.call(Method::GET, &job_path, None).await;
    assert_eq!(
        described["spec"]["flinkConfiguration"]["pipeline.name"],
        "renamed"
    );
    assert_eq!(described["spec"]["job"]["args"], json!(["--rate", "5"]));
    assert_eq!(
        described["spec"]["job"]["entryClass"],
        "com.example.flink.Job"
    );
    let (code, _) = acme
        .call(
            Method::PATCH,
            &job_path,
            Some(json!({"flinkConfiguration": null})),
        )
        .await;
    assert_eq!(code, 400, "a required field cannot be removed");
    let (code, savepoints) = acme
        .call(Method::GET, &format!("{job_path}/savepoints"), None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(savepoints, json!({"pending": [], "completed": []}));
    let (code, body) = acme.call(Method::DELETE, &one, None).await;
    assert_eq!(code, 409, "a session with a job stays: {body}");

    // Another organization: every session and job endpoint is 404.
    let urls = json!({"expiresInSeconds": 60, "webSessionDurationInSeconds": 600});
    for (method, path, body) in [
        (Method::GET, sessions.clone(), None),
        (Method::POST, sessions.clone(), Some(session_spec("x"))),
        (Method::GET, one.clone(), None),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"state": "RUNNING"})),
        ),
        (Method::DELETE, one.clone(), None),
        (Method::POST, format!("{one}/urls"), Some(urls.clone())),
        (Method::GET, jobs.clone(), None),
        (Method::GET, job_path.clone(), None),
        (
            Method::PATCH,
            job_path.clone(),
            Some(json!({"state": "RUNNING"})),
        ),
        (Method::DELETE, job_path.clone(), None),
        (Method::GET, format!("{job_path}/savepoints"), None),
        (Method::POST, format!("{job_path}/savepoints"), None),
    ] {
        let (code, answer) = globex.call(method.clone(), &path, body).await;
        assert_eq!(
            code, 404,
            "{method} {path} from another organization: {answer}"
        );
    }

    // Delete the job, then the session: 204 with an empty body.
    let response = s
        .client
        .delete(s.url(&job_path))
        .bearer_auth(&acme.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.text().await.unwrap().is_empty());
    let (code, _) = acme.call(Method::GET, &job_path, None).await;
    assert_eq!(code, 404);
    let (code, _) = acme.call(Method::DELETE, &one, None).await;
    assert_eq!(code, 204);
    let (code, _) = acme.call(Method::GET, &one, None).await;
    assert_eq!(code, 404);
}
