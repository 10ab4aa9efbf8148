//! One look at a job through its cluster's Flink REST API: its details,
//! `numRestarts`, checkpoint statistics and, per vertex, the subtasks'
//! rates, busy and back-pressured time.

use super::{CheckpointFigures, JobFigures, VertexFigures};
use crate::reconcile::job_state_text;
use drey_flink::{FlinkClient, FlinkError};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// The vertex metrics read, aggregated over subtasks.
const VERTEX_METRICS: [&str; 4] = [
    "busyTimeMsPerSecond",
    "backPressuredTimeMsPerSecond",
    "numRecordsInPerSecond",
    "numRecordsOutPerSecond",
];

/// The job's dataflow plan, as far as the figures need it.
#[derive(Debug, Default, Deserialize)]
struct Plan {
    #[serde(default)]
    nodes: Vec<PlanNode>,
}

#[derive(Debug, Deserialize)]
struct PlanNode {
    id: String,
    #[serde(default)]
    inputs: Vec<PlanInput>,
}

#[derive(Debug, Deserialize)]
struct PlanInput {
    id: String,
}

/// One aggregated metric (`{"id": ..., "max": ..., "avg": ..., "sum": ...}`).
#[derive(Debug, Deserialize)]
struct Aggregated {
    id: String,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    avg: Option<f64>,
    #[serde(default)]
    sum: Option<f64>,
}

/// One job metric (`{"id": ..., "value": "3"}`).
#[derive(Debug, Deserialize)]
struct Single {
    id: String,
    #[serde(default)]
    value: Option<Value>,
}

/// Looks at job `job_id`. An error of the job's details (the job or its
/// JobManager does not answer) fails the look; the other figures are
/// best-effort (a vertex whose metrics are not reported yet has none).
pub(super) async fn job(
    client: &FlinkClient,
    job_id: &str,
    cluster: &str,
) -> Result<JobFigures, FlinkError> {
    let details = client.job(job_id).await?;
    let state = job_state_text(&details.state);
    let now_ms = if details.now > 0 {
        details.now
    } else {
        drey_model::Timestamp::now().millis()
    };
    let running = state == "RUNNING";
    let mut figures = JobFigures {
        job_id: job_id.to_owned(),
        cluster: cluster.to_owned(),
        uptime_seconds: match details.timestamps.get("RUNNING") {
            Some(since) if running && *since > 0 => seconds(now_ms - since),
            _ => 0.0,
        },
        state,
        ..JobFigures::default()
    };
    if let Ok(metrics) = client.job_metrics(job_id, &["numRestarts"]).await {
        let singles: Vec<Single> = serde_json::from_value(metrics).unwrap_or_default();
        figures.restarts = singles
            .iter()
            .find(|m| m.id == "numRestarts")
            .and_then(|m| m.value.as_ref())
            .and_then(number)
            .map_or(0, |n| n.max(0.0) as u64);
    }
    if let Ok(stats) = client.checkpoints(job_id).await {
        figures.checkpoints_failed = u64::try_from(stats.counts.failed).unwrap_or(0);
        let completed = stats.latest.completed.as_ref();
        figures.last_checkpoint = completed.map(|c| CheckpointFigures {
            age_seconds: seconds(now_ms - c.latest_ack_timestamp).max(0.0),
            duration_seconds: seconds(c.end_to_end_duration),
            size_bytes: u64::try_from(c.checkpointed_size.max(c.state_size)).unwrap_or(0),
        });
        let failed_at = stats
            .latest
            .failed
            .as_ref()
            .map(|f| f.failure_timestamp.unwrap_or(f.trigger_timestamp));
        figures.checkpoint_failing = match (failed_at, completed) {
            (Some(failed), Some(done)) => failed > done.latest_ack_timestamp,
            (Some(_), None) => true,
            (None, _) => false,
        };
    }
    if running {
        vertices(
            client,
            job_id,
            &details.plan,
            &details.vertices,
            &mut figures,
        )
        .await;
    }
    Ok(figures)
}

/// Rates, busy and back-pressured time from the vertices' subtasks:
/// records in are what the sources emit, records out what the sinks take.
async fn vertices(
    client: &FlinkClient,
    job_id: &str,
    plan: &Value,
    vertices: &[drey_flink::JobVertex],
    figures: &mut JobFigures,
) {
    let plan: Plan = serde_json::from_value(plan.clone()).unwrap_or_default();
    let fed: BTreeSet<&str> = plan
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(|i| i.id.as_str()))
        .collect();
    let sources: BTreeSet<&str> = plan
        .nodes
        .iter()
        .filter(|n| n.inputs.is_empty())
        .map(|n| n.id.as_str())
        .collect();
    for vertex in vertices {
        let inputs = plan
            .nodes
            .iter()
            .find(|n| n.id == vertex.id)
            .map(|n| n.inputs.iter().map(|i| i.id.clone()).collect())
            .unwrap_or_default();
        let mut seen = VertexFigures {
            id: vertex.id.clone(),
            name: vertex.name.clone(),
            parallelism: vertex.parallelism,
            max_parallelism: u32::try_from(vertex.max_parallelism)
                .ok()
                .filter(|m| *m > 0),
            inputs,
            ..VertexFigures::default()
        };
        let Ok(value) = client
            .vertex_subtasks_metrics(job_id, &vertex.id, &VERTEX_METRICS)
            .await
        else {
            figures.vertices.push(seen);
            continue;
        };
        let metrics: Vec<Aggregated> = serde_json::from_value(value).unwrap_or_default();
        let ratio = |v: Option<f64>| v.filter(|v| v.is_finite()).map(|v| v / 1000.0);
        let rate = |v: Option<f64>| v.filter(|v| v.is_finite());
        for m in metrics.iter() {
            match m.id.as_str() {
                "busyTimeMsPerSecond" => {
                    raise(&mut figures.busy_ratio, m.max.map(|v| v / 1000.0));
                    seen.busy_ratio = ratio(m.avg);
                }
                "backPressuredTimeMsPerSecond" => {
                    raise(&mut figures.backpressure_ratio, m.max.map(|v| v / 1000.0));
                    seen.backpressure_ratio = ratio(m.avg);
                }
                "numRecordsOutPerSecond" => {
                    if sources.contains(vertex.id.as_str()) {
                        add(&mut figures.records_in_per_second, m.sum);
                    }
                    seen.records_out_per_second = rate(m.sum);
                }
                "numRecordsInPerSecond" => {
                    if !fed.contains(vertex.id.as_str()) {
                        add(&mut figures.records_out_per_second, m.sum);
                    }
                    seen.records_in_per_second = rate(m.sum);
                }
                _ => {}
            }
        }
        figures.vertices.push(seen);
    }
}

fn raise(to: &mut Option<f64>, value: Option<f64>) {
    if let Some(v) = value.filter(|v| v.is_finite()) {
        *to = Some(to.map_or(v, |t| t.max(v)));
    }
}

fn add(to: &mut Option<f64>, value: Option<f64>) {
    if let Some(v) = value.filter(|v| v.is_finite()) {
        *to = Some(to.unwrap_or(0.0) + v);
    }
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A metric value Flink gives as a number or a string.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_values_come_as_numbers_or_strings() {
        assert_eq!(number(&Value::from(3)), Some(3.0));
        assert_eq!(number(&Value::from("4")), Some(4.0));
        assert_eq!(number(&Value::from("NaN")), None);
        assert_eq!(number(&Value::Null), None);
    }

    #[test]
    fn the_highest_vertex_wins_and_rates_add_up() {
        let mut busy = None;
        raise(&mut busy, Some(0.2));
        raise(&mut busy, Some(0.7));
        raise(&mut busy, Some(f64::NAN));
        raise(&mut busy, Some(0.1));
        assert_eq!(busy, Some(0.7));
        let mut rate = None;
        add(&mut rate, None);
        assert_eq!(rate, None);
        add(&mut rate, Some(2.0));
        add(&mut rate, Some(3.0));
        assert_eq!(rate, Some(5.0));
    }
}
