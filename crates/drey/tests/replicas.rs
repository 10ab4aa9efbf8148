//! Three drey replicas on one real PostgreSQL database and one data dir (one
//! host): every replica serves reads and writes, one at a time runs the
//! reconcilers under a lease. An application created through a follower
//! runs exactly once; `kill -9` of the leader in the middle of its deploy
//! and of its suspend hands the work to another replica, which finishes it
//! with the state continued; a leader frozen past its lease (SIGSTOP) and
//! then resumed does not act.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::{postgres, Server};
use nix::sys::signal::{kill, Signal};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Replicas must share the key that seals secrets.
const SECRET_KEY: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";
/// A short lease keeps the test quick; the benchmark measures the default.
const LEASE_SECONDS: u64 = 4;
const LIMIT: Duration = Duration::from_secs(240);

fn replica(data: &Path, url: &str) -> Server {
    let lease = LEASE_SECONDS.to_string();
    start_with_args(
        data,
        &[
            "--database-url",
            url,
            "--secret-key",
            SECRET_KEY,
            "--leader-lease-seconds",
            &lease,
        ],
    )
}

async fn readyz(s: &Server) -> Value {
    let (code, body) = s.get("/readyz").await;
    assert_eq!(code, 200, "{body}");
    body
}

/// The index of the one replica that leads, once exactly one does.
async fn leader(replicas: &[&Server]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut leaders = Vec::new();
        for (i, s) in replicas.iter().enumerate() {
            if readyz(s).await["leader"] == true {
                leaders.push(i);
            }
        }
        if let [one] = leaders[..] {
            return one;
        }
        assert!(leaders.len() <= 1, "two replicas lead at once: {leaders:?}");
        assert!(Instant::now() < deadline, "no replica leads");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for `check`, asserting on every look that no second cluster runs.
async fn converge(s: &Server, data: &Path, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    converge_single(s, data, "once", LIMIT, what, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_each_job_once_and_hand_over_on_failure() {
    let Some(url) = postgres::database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let mut replicas: Vec<Server> = (0..3).map(|_| replica(&data, &url)).collect();

    let l = leader(&replicas.iter().collect::<Vec<_>>()).await;
    let ids: Vec<Value> = {
        let mut ids = Vec::new();
        for s in &replicas {
            ids.push(readyz(s).await["replica"].clone());
        }
        ids
    };
    assert!(ids.iter().all(Value::is_string), "{ids:?}");
    let metrics = replicas[l]
        .client
        .get(replicas[l].url("/metrics"))
        .bearer_auth(replicas[l].token.clone().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = format!("drey_leader{{replica=\"{}\"}} 1", ids[l].as_str().unwrap());
    assert!(metrics.contains(&gauge), "{gauge} missing:\n{metrics}");

    // Writes through a follower are read through the other at once.
    let (f1, f2) = ((l + 1) % 3, (l + 2) % 3);
    let (code, body) = replicas[f1]
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        replicas[f2].get("/cmf/api/v1/environments/flink").await.0,
        200
    );

    // An application created through a follower; the leader is killed while
    // its cluster starts.
    let mut app = checkpointing_counter_app("once", &out, 1, "savepoint");
    let (code, body) = replicas[f1].post(APPS, app.clone()).await;
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + LIMIT;
    while app_jobmanagers(&data) == 0 {
        assert!(Instant::now() < deadline, "no cluster started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deploying = !running(&status(&replicas[f1], "once").await);
    let killed = Instant::now();
    replicas.remove(l).kill9();
    let l = leader(&replicas.iter().collect::<Vec<_>>()).await;
    let failover = killed.elapsed();
    let st = converge(&replicas[l], &data, "RUNNING", running).await;
    let job_id = st["jobStatus"]["jobId"].clone();
    wait_for_output(&out, 10).await;
    assert_eq!(app_jobmanagers(&data), 1);
    replicas.push(replica(&data, &url));

    // Suspend through a follower; the leader is killed while it suspends.
    let f = (l + 1) % replicas.len();
    app["spec"]["job"]["state"] = json!("suspended");
    let (code, body) = replicas[f].post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    replicas.remove(l).kill9();
    let l = leader(&replicas.iter().collect::<Vec<_>>()).await;
    let st = converge(&replicas[l], &data, "SUSPENDED", |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    assert!(st["lastSavepoint"]["location"].is_string(), "{st:#}");
    assert_eq!(
        app_jobmanagers(&data),
        0,
        "a suspended application keeps a cluster"
    );
    replicas.push(replica(&data, &url));

    // Started again through a follower: the counter continues.
    let lines = line_count(&out);
    app["spec"]["job"]["state"] = json!("running");
    let f = (l + 1) % replicas.len();
    let (code, body) = replicas[f].post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    let st = converge(&replicas[l], &data, "RUNNING again", running).await;
    wait_for_output(&out, lines + 5).await;
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 1, "{key} restarted at {n}: state lost");
    }
    let job_id_after_resume = st["jobStatus"]["jobId"].clone();

    // The leader freezes past its lease: another replica takes over and
    // leaves the job alone; the old leader, resumed, does not act.
    let frozen = replicas[l].pid();
    kill(frozen, Signal::SIGSTOP).unwrap();
    let others: Vec<&Server> = replicas
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != l)
        .map(|(_, s)| s)
        .collect();
    let new_leader = leader(&others).await;
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS)).await;
    kill(frozen, Signal::SIGCONT).unwrap();
    let resumed = &replicas[l];
    let deadline = Instant::now() + Duration::from_secs(30);
    while readyz(resumed).await["leader"] != false {
        assert!(Instant::now() < deadline, "the resumed replica still leads");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(leader(&replicas.iter().collect::<Vec<_>>()).await, l);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let st = converge(others[new_leader], &data, "RUNNING", running).await;
    assert_eq!(
        st["jobStatus"]["jobId"], job_id_after_resume,
        "the job was replaced"
    );
    assert_eq!(app_jobmanagers(&data), 1);
    assert!(
        resumed.log().contains("lost the reconciler lease"),
        "the resumed replica did not notice: {}",
        resumed.log()
    );

    // Deleted through any replica: nothing is left.
    let s = &replicas[(l + 1) % replicas.len()];
    delete_and_wait(s, &data, "once", LIMIT).await;
    println!(
        "failover after kill -9 of the leader: {:.1} s (lease {LEASE_SECONDS} s); \
         killed while deploying: {deploying}; first job {job_id}",
        failover.as_secs_f64()
    );
}

fn live(replicas: &[Option<Server>]) -> Vec<&Server> {
    replicas.iter().flatten().collect()
}

/// Live JobManagers of application clusters under any of `dirs`.
fn jobmanagers(dirs: &[&Path]) -> usize {
    dirs.iter().map(|d| app_jobmanagers(d)).sum()
}

/// The one application cluster's record (`cluster.json`) under `data`.
fn app_cluster_record(data: &Path) -> Option<Value> {
    let clusters = std::fs::read_dir(data.join("clusters")).ok()?;
    let mut records = clusters
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("app-"))
        .filter_map(|e| std::fs::read(e.path().join("cluster.json")).ok())
        .map(|b| serde_json::from_slice::<Value>(&b).unwrap());
    let record = records.next();
    assert!(records.next().is_none(), "two application clusters");
    record
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits for `check`, asserting on every look that no second application
/// cluster runs under either data dir.
async fn converge_in(s: &Server, dirs: &[&Path], what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let jms = jobmanagers(dirs);
        assert!(jms <= 1, "{jms} application clusters at once\n{}", s.log());
        let st = status(s, "own-dirs").await;
        if check(&st) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {what} after {LIMIT:?}: {st:#}\nlog:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Two replicas on one PostgreSQL, each with its own data dir: the cluster
/// the leader started is recorded in the store (its client TLS identity
/// sealed: not in a dump of the database), and after `kill -9` of the leader
/// the other replica adopts it from there — the same JobManager and job,
/// counting on, nothing started twice — then suspends it with a savepoint
/// and starts it again on a cluster of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_their_own_data_dirs_adopt_clusters_from_the_store() {
    let Some(url) = postgres::database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dirs = [dir.path().join("data-a"), dir.path().join("data-b")];
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let _cleanup = [KillClusters(dirs[0].clone()), KillClusters(dirs[1].clone())];
    let both: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
    let out = dir.path().join("counts.txt");
    // The first start makes the root key; the other replica's helper reads
    // it from its own data dir.
    let first = replica(&dirs[0], &url);
    std::fs::copy(dirs[0].join("root.key"), dirs[1].join("root.key")).unwrap();
    let mut replicas = vec![Some(first), Some(replica(&dirs[1], &url))];
    // Replica i keeps data dir i; the leader index is into `replicas`.
    let l = leader(&live(&replicas)).await;
    let f = 1 - l;
    let (code, body) = replicas[f]
        .as_ref()
        .unwrap()
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let mut app = checkpointing_counter_app("own-dirs", &out, 1, "savepoint");
    let (code, body) = replicas[f].as_ref().unwrap().post(APPS, app.clone()).await;
    assert_eq!(code, 201, "{body}");
    let leader_server = replicas[l].as_ref().unwrap();
    converge_in(leader_server, &both, "RUNNING", running).await;
    let job_id = status(leader_server, "own-dirs").await["jobStatus"]["jobId"].clone();
    wait_for_output(&out, 10).await;
    // The cluster runs from the data dir of the replica that started it,
    // which leads; it is in the store.
    let l = (0..2)
        .find(|i| app_cluster_record(&dirs[*i]).is_some())
        .expect("an application cluster record");
    let f = 1 - l;
    assert_eq!(readyz(replicas[l].as_ref().unwrap()).await["leader"], true);
    let record = app_cluster_record(&dirs[l]).unwrap();
    let jm_pid = record["processes"][0]["pid"].as_u64().unwrap();
    let id = record["id"].as_str().unwrap().to_owned();
    assert!(alive(jm_pid));
    assert_eq!(app_jobmanagers(&dirs[f]), 0);
    let rows = postgres::server().psql(
        &url,
        "SELECT spec FROM objects WHERE kind = 'local-cluster'",
    );
    let stored: Value = serde_json::from_str(rows.trim()).unwrap();
    assert_eq!(stored["id"], id.as_str(), "{rows}");
    assert_eq!(stored["processes"][0]["pid"], jm_pid);
    assert!(
        stored["host"].is_string() && stored["rest_port"].is_u64(),
        "{stored}"
    );

    // The sealed TLS identity is nowhere in clear in the database.
    let client: Value = serde_json::from_slice(
        &std::fs::read(Path::new(record["cluster_dir"].as_str().unwrap()).join("drey/client.json"))
            .unwrap(),
    )
    .unwrap();
    let password = client["password"].as_str().unwrap();
    let key_line = client["identity_pem"]
        .as_str()
        .unwrap()
        .lines()
        .skip_while(|l| !l.contains("PRIVATE KEY"))
        .nth(1)
        .unwrap()
        .to_owned();
    let dump = postgres::server().pg_dump(&url);
    let rows = postgres::server().psql(
        &url,
        "SELECT row_to_json(o)::text || encode(coalesce(o.sealed, ''), 'escape') FROM objects o",
    );
    assert!(dump.contains("local-cluster") && rows.contains("local-cluster"));
    for text in [&dump, &rows] {
        assert!(
            !text.contains(password),
            "the TLS password is stored in clear"
        );
        assert!(
            !text.contains(&key_line),
            "drey's client key is stored in clear"
        );
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key is stored in clear"
        );
    }

    // The leader dies; the other adopts the cluster from the store.
    let lines = line_count(&out);
    replicas[l].take().unwrap().kill9();
    assert_eq!(leader(&live(&replicas)).await, 0);
    let survivor = replicas[f].as_ref().unwrap();
    // A look through the survivor's controllers: the job stays as it is.
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS * 2)).await;
    converge_in(survivor, &both, "RUNNING", running).await;
    wait_for_output(&out, lines + 20).await;
    let st = status(survivor, "own-dirs").await;
    assert_eq!(st["jobStatus"]["jobId"], job_id, "the job was replaced");
    assert!(alive(jm_pid), "the JobManager was replaced");
    assert_eq!(app_jobmanagers(&dirs[f]), 0, "a second cluster was started");
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 1, "{key} restarted at {n}: state lost");
    }

    // Suspended by the survivor with a savepoint: the adopted cluster goes.
    app["spec"]["job"]["state"] = json!("suspended");
    let (code, body) = survivor.post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    converge_in(survivor, &both, "SUSPENDED", |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    let st = status(survivor, "own-dirs").await;
    assert!(st["lastSavepoint"]["location"].is_string(), "{st:#}");
    assert!(!alive(jm_pid));
    assert_eq!(
        jobmanagers(&both),
        0,
        "a suspended application keeps a cluster"
    );
    let rows = postgres::server().psql(
        &url,
        "SELECT count(*) FROM objects WHERE kind = 'local-cluster'",
    );
    assert_eq!(rows.trim(), "0", "the stopped cluster's record stays");

    // Started again: on a cluster of the survivor's, from the savepoint.
    let lines = line_count(&out);
    app["spec"]["job"]["state"] = json!("running");
    let (code, body) = survivor.post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    converge_in(survivor, &both, "RUNNING again", running).await;
    wait_for_output(&out, lines + 5).await;
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 1, "{key} restarted at {n}: state lost");
    }
    assert_eq!(app_jobmanagers(&dirs[f]), 1);
    delete_and_wait(survivor, &dirs[f], "own-dirs", LIMIT).await;
}

/// Forwards connections to `to` from a listener on `address` (port 0); the
/// other host reaches this host's PostgreSQL, which listens on loopback,
/// through it. Returns the listening address.
async fn forward(address: &str, to: String) -> String {
    let listener = tokio::net::TcpListener::bind(format!("{address}:0"))
        .await
        .unwrap();
    let at = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    at
}

/// A replica on another host (a network namespace of the test's, its own
/// `--host-id` and data dir, the savepoints and checkpoints on a state dir
/// both share) takes over when the leader dies and drives the cluster the
/// leader started over Flink's REST API: the job is seen and left running
/// (same JobManager, same job id, counts continuing), a savepoint is taken
/// into the shared state dir, and a suspend stops the job with a savepoint
/// but leaves the processes to a replica on their host — which, once it
/// leads again, takes them down and starts the job anew from that savepoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_on_another_host_drives_the_cluster_over_rest() {
    use common::standalone::Host;
    let Some(url) = postgres::database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b, state) = (
        dir.path().join("data-a"),
        dir.path().join("data-b"),
        dir.path().join("state"),
    );
    for d in [&data_a, &data_b, &state] {
        std::fs::create_dir_all(d).unwrap();
    }
    let _cleanup = KillClusters(data_a.clone());
    let out = dir.path().join("counts.txt");
    let other = Host::new(4);
    // The other host reaches the database through this host's end of the link.
    let pg = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let proxied = forward(&other.host_address, pg.clone()).await;
    let url_b = url.replace(&pg, &proxied);
    let lease = LEASE_SECONDS.to_string();
    let common_args = |state: &str| {
        vec![
            "--secret-key".to_owned(),
            SECRET_KEY.to_owned(),
            "--leader-lease-seconds".to_owned(),
            lease.clone(),
            "--state-dir".to_owned(),
            state.to_owned(),
        ]
    };
    let state_arg = state.to_str().unwrap().to_owned();
    let start_a = || {
        let mut args = common_args(&state_arg);
        args.extend(
            [
                "--database-url",
                url.as_str(),
                "--host-id",
                "host-a",
                // The other host reaches the clusters through the link.
                "--cluster-rest-address",
                other.host_address.as_str(),
            ]
            .map(str::to_owned),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        start_with_args(&data_a, &args)
    };
    let a = start_a();
    assert_eq!(leader(&[&a]).await, 0);
    std::fs::copy(data_a.join("root.key"), data_b.join("root.key")).unwrap();
    let mut b_args = common_args(&state_arg);
    b_args.extend(
        [
            "--database-url",
            url_b.as_str(),
            "--host-id",
            "host-b",
            "--auth",
            "token",
            "--reconcile-interval-seconds",
            "1",
            "--jar-dir",
            testjobs().to_str().unwrap(),
        ]
        .map(str::to_owned),
    );
    let b_args: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let mut b = Server::start_in_namespace(&other.namespace, &other.address, &data_b, &b_args);
    b.token = a.token.clone();
    assert_eq!(readyz(&b).await["leader"], false);

    // Written through the other host, run by the leader on this one.
    let (code, body) = b
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let mut app = checkpointing_counter_app("far-away", &out, 1, "savepoint");
    let (code, body) = b.post(APPS, app.clone()).await;
    assert_eq!(code, 201, "{body}");
    converge_single(&a, &data_a, "far-away", LIMIT, "RUNNING", running).await;
    let job_id = status(&a, "far-away").await["jobStatus"]["jobId"].clone();
    let record = app_cluster_record(&data_a).expect("the cluster's record");
    let jm_pid = record["processes"][0]["pid"].as_u64().unwrap();
    assert_eq!(
        record["rest_address"],
        other.host_address.as_str(),
        "{record}"
    );
    wait_for_output(&out, 10).await;

    // The leader dies: the other host leads and sees the job over REST.
    let lines = line_count(&out);
    a.kill9();
    let deadline = Instant::now() + Duration::from_secs(60);
    while readyz(&b).await["leader"] != true {
        assert!(Instant::now() < deadline, "the other host does not lead");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS * 2)).await;
    let st = converge_single(
        &b,
        &data_b,
        "far-away",
        LIMIT,
        "RUNNING on the other host",
        running,
    )
    .await;
    assert_eq!(st["jobStatus"]["jobId"], job_id, "the job was replaced");
    assert!(alive(jm_pid), "the JobManager was replaced");
    assert_eq!(
        app_jobmanagers(&data_b),
        0,
        "the other host started a cluster"
    );
    wait_for_output(&out, lines + 20).await;
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 1, "{key} restarted at {n}: state lost");
    }

    // A savepoint over REST, into the shared state dir.
    let savepoints = format!("{APPS}/far-away/savepoints");
    let (code, body) = b
        .post(
            &savepoints,
            json!({"metadata": {"name": "far-sp"}, "spec": {}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + LIMIT;
    let path = loop {
        let (_, sp) = b.get(&format!("{savepoints}/far-sp")).await;
        if sp["status"]["state"] == "COMPLETED" {
            break sp["status"]["path"].as_str().unwrap().to_owned();
        }
        assert!(sp["status"]["state"] != "FAILED", "{sp:#}\n{}", b.log());
        assert!(Instant::now() < deadline, "not taken: {sp:#}\n{}", b.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let on_disk = Path::new(path.trim_start_matches("file:").trim_start_matches("//"));
    assert!(
        on_disk.starts_with(&state) && on_disk.join("_metadata").is_file(),
        "{path} under {}",
        state.display()
    );

    // Suspend: the job stops with a savepoint; the processes are this
    // host's to take down, and the other host says so and waits.
    app["spec"]["job"]["state"] = json!("suspended");
    let (code, body) = b.post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    let deadline = Instant::now() + LIMIT;
    loop {
        let st = status(&b, "far-away").await;
        let waiting = st.to_string().contains("host-a");
        if waiting && st["jobStatus"]["state"] != "RUNNING" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not stopped and waiting for host-a: {st:#}\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        alive(jm_pid),
        "another host signalled this host's processes"
    );

    // A replica on this host again; once it leads it takes the processes
    // down, and a start continues from the suspend's savepoint.
    let a = start_a();
    b.kill9();
    let a_leads = leader(&[&a]).await;
    assert_eq!(a_leads, 0);
    converge_single(&a, &data_a, "far-away", LIMIT, "SUSPENDED", |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive(jm_pid) {
        assert!(
            Instant::now() < deadline,
            "the processes stay:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let lines = line_count(&out);
    app["spec"]["job"]["state"] = json!("running");
    let (code, body) = a.post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    converge_single(&a, &data_a, "far-away", LIMIT, "RUNNING again", running).await;
    wait_for_output(&out, lines + 5).await;
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 1, "{key} restarted at {n}: state lost");
    }
    delete_and_wait(&a, &data_a, "far-away", LIMIT).await;
}
