//! `/autopilot/v1alpha1/namespaces/{ns}/...`: Ververica's Autopilot served
//! by drey's autoscaler. A deployment's AutopilotPolicy is the
//! `job.autoscaler.*` options of its `flinkConfiguration` (what an operator
//! or CMF user writes), so a policy set here shows there and the other way
//! round; its status and recommendation are what the autoscaler last
//! decided (its record and its `JOB_RESCALED` event).

use super::deployments::{find, set_flink_configuration};
use super::{all, reply, VvpError, VvpPayload};
use crate::auth::{Acting, Caller};
use crate::AppState;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::observability::{Subject, SubjectKind};
use drey_control::reconcile::recorded_of;
use drey_model::application::configuration_text;
use drey_model::application_spec::ApplicationStatus;
use drey_model::autoscaler::{
    Autoscaler, ENABLED, SCALING_ENABLED, STABILIZATION_INTERVAL, TARGET_UTILIZATION,
    VERTEX_MAX_PARALLELISM, VERTEX_MIN_PARALLELISM,
};
use drey_model::event::{EventStatus, EventType};
use drey_model::loose::view;
use drey_model::{Error, Object, PageRequest, Timestamp};
use serde_json::{json, Map, Value};

const ACTIVE: &str = "AUTOPILOT_MODE_ACTIVE";
const MONITORING: &str = "AUTOPILOT_MODE_MONITORING";
const DISABLED: &str = "AUTOPILOT_MODE_DISABLED";

/// The options a policy's named fields stand for; any other
/// `job.autoscaler.*` option is its `extraConfig`.
const NAMED: [&str; 5] = [
    ENABLED,
    SCALING_ENABLED,
    TARGET_UTILIZATION,
    VERTEX_MIN_PARALLELISM,
    VERTEX_MAX_PARALLELISM,
];

fn configuration(app: &Object) -> Map<String, Value> {
    app.spec
        .get("flinkConfiguration")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The deployment's policy, read from its configuration.
fn policy_of(app: &Object, ns: &str) -> Value {
    let conf = Value::Object(configuration(app));
    let on = configuration_text(&conf, ENABLED).is_some_and(|t| t.eq_ignore_ascii_case("true"));
    // The settings as they stand, whether or not it is on.
    let mut forced = configuration(app);
    forced.insert(ENABLED.into(), json!("true"));
    let settings = Autoscaler::of(&Value::Object(forced)).unwrap_or_default();
    let mode = match (on, settings.scaling) {
        (false, _) => DISABLED,
        (true, true) => ACTIVE,
        (true, false) => MONITORING,
    };
    let extra: Map<String, Value> = conf
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("job.autoscaler.") && !NAMED.contains(&k.as_str()))
        .filter(|(k, _)| k.as_str() != STABILIZATION_INTERVAL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "name": format!("namespaces/{ns}/deployments/{}/autopilotpolicy", app.meta.uid),
        "mode": mode,
        "autoscalerConfig": {
            "targetUtilization": (settings.target_utilization * 100.0).round() as u64,
            "minParallelism": settings.min_parallelism,
            "maxParallelism": settings.max_parallelism,
            "cooldownMinutes": settings.stabilization.as_secs() / 60,
            "extraConfig": extra,
        },
        "modifyTime": app.meta.update_timestamp.to_string(),
    })
}

/// A whole number of `field`, within `min..=max`.
fn whole(config: &Value, field: &str, min: u64, max: u64) -> Result<Option<u64>, Error> {
    match config.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().filter(|n| (min..=max).contains(n)) {
            Some(n) => Ok(Some(n)),
            None => Err(Error::invalid(
                format!("policy.autoscalerConfig.{field}"),
                format!("must be a whole number from {min} to {max}, not {v}"),
            )),
        },
    }
}

/// The configuration with `policy` applied: its mode and the fields it
/// names; what it leaves out stays as it was.
fn apply(mut conf: Map<String, Value>, policy: &Value) -> Result<Map<String, Value>, Error> {
    if !policy.is_object() {
        return Err(Error::invalid(
            "policy",
            "must be an AutopilotPolicy object",
        ));
    }
    match policy.get("mode").map(|m| (m, m.as_str())) {
        None | Some((Value::Null, _)) => {}
        Some((_, Some(ACTIVE))) => {
            conf.insert(ENABLED.into(), json!("true"));
            conf.insert(SCALING_ENABLED.into(), json!("true"));
        }
        Some((_, Some(MONITORING))) => {
            conf.insert(ENABLED.into(), json!("true"));
            conf.insert(SCALING_ENABLED.into(), json!("false"));
        }
        Some((_, Some(DISABLED))) => {
            conf.insert(ENABLED.into(), json!("false"));
        }
        Some((m, _)) => {
            return Err(Error::invalid(
                "policy.mode",
                format!("must be {ACTIVE}, {MONITORING} or {DISABLED}, not {m}"),
            ))
        }
    }
    let config = match policy.get("autoscalerConfig") {
        None | Some(Value::Null) => return Ok(conf),
        Some(c) if c.is_object() => c,
        Some(_) => {
            return Err(Error::invalid(
                "policy.autoscalerConfig",
                "must be an object",
            ))
        }
    };
    if let Some(t) = whole(config, "targetUtilization", 1, 100)? {
        conf.insert(
            TARGET_UTILIZATION.into(),
            json!(format!("{}", t as f64 / 100.0)),
        );
    }
    let min = whole(config, "minParallelism", 1, u64::from(u32::MAX))?;
    let max = whole(config, "maxParallelism", 1, u64::from(u32::MAX))?;
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            return Err(Error::invalid(
                "policy.autoscalerConfig.minParallelism",
                format!("must not be above maxParallelism ({max}), not {min}"),
            ));
        }
    }
    if let Some(min) = min {
        conf.insert(VERTEX_MIN_PARALLELISM.into(), json!(min.to_string()));
    }
    if let Some(max) = max {
        conf.insert(VERTEX_MAX_PARALLELISM.into(), json!(max.to_string()));
    }
    if let Some(minutes) = whole(config, "cooldownMinutes", 0, 100_000)? {
        conf.insert(
            STABILIZATION_INTERVAL.into(),
            json!(format!("{minutes} min")),
        );
    }
    match config.get("extraConfig") {
        None | Some(Value::Null) => {}
        Some(Value::Object(extra)) => {
            for (key, value) in extra {
                let field = format!("policy.autoscalerConfig.extraConfig.{key}");
                if !key.starts_with("job.autoscaler.") {
                    return Err(Error::invalid(
                        field,
                        "must be a job.autoscaler.* option of Flink's autoscaler",
                    ));
                }
                let Some(text) = value.as_str() else {
                    return Err(Error::invalid(field, "must be a string"));
                };
                conf.insert(key.clone(), json!(text));
            }
        }
        Some(_) => {
            return Err(Error::invalid(
                "policy.autoscalerConfig.extraConfig",
                "must be a map of option names to strings",
            ))
        }
    }
    Ok(conf)
}

/// The newest `JOB_RESCALED` event of the application: the last decision.
async fn last_decision(
    state: &AppState,
    org: &str,
    ns: &str,
    app: &Object,
) -> Result<Option<String>, Error> {
    let page = PageRequest {
        page: 0,
        size: 100,
        sort: vec![],
    };
    let events = state
        .core
        .list_events(org, ns, &app.meta.name, page)
        .await?;
    Ok(events.items.iter().find_map(|e| {
        let status: EventStatus = view(&e.status);
        (status.event_type == Some(EventType::JobRescaled))
            .then_some(status.message)
            .flatten()
    }))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let apps = all(|page| state.core.list_applications(&who.org, &ns, page)).await?;
    let policies: Vec<Value> = apps.iter().map(|a| policy_of(a, &ns)).collect();
    Ok(reply(StatusCode::OK, json!({ "policies": policies })))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, deployment)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &deployment).await?;
    Ok(reply(
        StatusCode::OK,
        json!({ "policy": policy_of(&app, &ns) }),
    ))
}

pub(super) async fn put(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, deployment)): Path<(String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &deployment).await?;
    let conf = apply(configuration(&app), &body)?;
    let app = set_flink_configuration(&state, &who.org, &ns, &app, conf).await?;
    Ok(reply(
        StatusCode::OK,
        json!({ "policy": policy_of(&app, &ns) }),
    ))
}

/// What the autoscaler last decided, as a patch of the deployment.
pub(super) async fn recommendation(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, deployment)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &deployment).await?;
    let record = recorded_of(&app).autoscaler;
    let decided = record
        .as_ref()
        .and_then(|r| r.parallelism.values().copied().max());
    let recommendation = match (decided, record.and_then(|r| r.last_rescale)) {
        (Some(parallelism), Some(at)) => {
            let patch = json!({"spec": {"template": {"spec": {"parallelism": parallelism}}}});
            let description = last_decision(&state, &who.org, &ns, &app)
                .await?
                .unwrap_or_default();
            json!({
                "deploymentPatch": patch.to_string(),
                "description": description,
                "lastUpdateTime": at.to_string(),
            })
        }
        _ => json!({}),
    };
    Ok(reply(
        StatusCode::OK,
        json!({ "recommendation": recommendation }),
    ))
}

/// VVP's `AutoscalerStatus`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct AutoscalerStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    last_action_time: Option<String>,
    message: String,
    metrics: String,
    source_status: Vec<Value>,
    update_time: String,
}

/// The autoscaler's state for the deployment: its last action, and what
/// the job watch last saw of the job's sources.
pub(super) async fn status(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, deployment)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &deployment).await?;
    let on = Autoscaler::of(&Value::Object(configuration(&app))).is_some();
    let record = recorded_of(&app).autoscaler;
    let message = match (on, last_decision(&state, &who.org, &ns, &app).await?) {
        (false, _) => "Autopilot is disabled for this deployment.".to_owned(),
        (true, Some(decision)) => decision,
        (true, None) => "No decision yet: the metrics window is being collected.".to_owned(),
    };
    let subject = Subject {
        kind: SubjectKind::Application,
        organization: who.org.clone(),
        environment: ns.clone(),
        name: app.meta.name.clone(),
    };
    let job = view::<ApplicationStatus>(&app.status)
        .job_id()
        .map(str::to_owned);
    let history = job
        .map(|j| state.core.board().vertex_history(&subject, &j))
        .unwrap_or_default();
    let sources: Vec<Value> = history
        .last()
        .map(|round| {
            round
                .vertices
                .iter()
                .filter(|v| v.inputs.is_empty())
                .map(|v| {
                    let throughput = v.records_out_per_second.unwrap_or(0.0);
                    let capacity = v
                        .busy_ratio
                        .filter(|b| *b > 0.0)
                        .map_or(throughput, |b| throughput / b.min(1.0));
                    json!({
                        "vertexId": v.id,
                        "taskName": v.name,
                        "throughput": throughput,
                        "target": throughput,
                        "capacity": capacity,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let autoscaler = AutoscalerStatus {
        last_action_time: record.and_then(|r| r.last_rescale).map(|at| at.to_string()),
        message,
        metrics: String::new(),
        source_status: sources,
        update_time: history
            .last()
            .map_or_else(Timestamp::now, |r| r.at)
            .to_string(),
    };
    Ok(reply(
        StatusCode::OK,
        json!({"status": {"status": "POLICY_STATUS_OK", "autoscalerStatus": autoscaler}}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_becomes_the_autoscaler_options_and_bad_ones_are_named() {
        let conf = apply(
            Map::new(),
            &json!({"mode": MONITORING, "autoscalerConfig": {
                "targetUtilization": 60, "minParallelism": 1, "maxParallelism": 4,
                "cooldownMinutes": 2,
                "extraConfig": {"job.autoscaler.metrics.window": "1 min"}}}),
        )
        .unwrap();
        assert_eq!(conf[ENABLED], "true");
        assert_eq!(conf[SCALING_ENABLED], "false");
        assert_eq!(conf[TARGET_UTILIZATION], "0.6");
        assert_eq!(conf[VERTEX_MAX_PARALLELISM], "4");
        assert_eq!(conf[STABILIZATION_INTERVAL], "2 min");
        assert_eq!(conf["job.autoscaler.metrics.window"], "1 min");
        for (bad, field) in [
            (json!([]), "policy"),
            (json!({"mode": "AUTOPILOT_MODE_INVALID"}), "policy.mode"),
            (
                json!({"autoscalerConfig": {"targetUtilization": 0}}),
                "policy.autoscalerConfig.targetUtilization",
            ),
            (
                json!({"autoscalerConfig": {"minParallelism": 5, "maxParallelism": 2}}),
                "policy.autoscalerConfig.minParallelism",
            ),
            (
                json!({"autoscalerConfig": {"extraConfig": {"rest.port": "1"}}}),
                "policy.autoscalerConfig.extraConfig.rest.port",
            ),
        ] {
            match apply(Map::new(), &bad) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
