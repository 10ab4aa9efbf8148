//! The autoscaler's decision, as the Flink Kubernetes Operator's autoscaler
//! makes it: per vertex, the rate it must take (what the sources emit,
//! carried through each vertex's output ratio) against the rate it could
//! take (what it takes while busy: records in ÷ busy share), aimed at the
//! target utilization. A pure function of the settings and the job watch's
//! recent rounds, so each rule is a unit test.

use crate::observability::{VertexFigures, VertexSample};
use drey_model::autoscaler::Autoscaler;
use drey_model::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the autoscaler recorded of the application it scales.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerRecord {
    /// The spec (its fingerprint) the decisions apply to: a user's own
    /// change (a new parallelism included) starts afresh, so the autoscaler
    /// never fights it.
    pub fingerprint: String,
    /// When it last rescaled the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rescale: Option<Timestamp>,
    /// The parallelism it last asked for, per vertex id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parallelism: BTreeMap<String, u32>,
}

/// The decision of one look.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Not yet a full metrics window of trusted rounds.
    Collecting,
    /// Every vertex is within bounds, or at its limit.
    Hold,
    /// Some vertex is to run with another parallelism.
    Rescale(Rescale),
}

/// New parallelism for the job's vertices, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Rescale {
    /// Every vertex's parallelism (changed or not), by vertex id.
    pub parallelism: BTreeMap<String, u32>,
    /// What was decided from what, for the event.
    pub summary: String,
    /// How it is carried out.
    pub how: RescaleHow,
}

/// How a decision is carried out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RescaleHow {
    /// In place: the job runs with the adaptive scheduler, which takes new
    /// resource requirements while it runs.
    #[default]
    InPlace,
    /// A new deployment per the upgrade mode (a savepoint, by default),
    /// with the vertices' parallelism given at submission.
    Redeploy,
    /// Not at all: `job.autoscaler.scaling.enabled` is false; the event
    /// says what would have been done.
    ReportOnly,
}

/// Flink's option giving vertices their parallelism at submission,
/// `<vertex id>:<parallelism>,...`.
pub const PARALLELISM_OVERRIDES: &str = "pipeline.jobvertex-parallelism-overrides";

/// The value of [`PARALLELISM_OVERRIDES`] for `parallelism`.
pub fn parallelism_overrides(parallelism: &BTreeMap<String, u32>) -> String {
    parallelism
        .iter()
        .map(|(vertex, p)| format!("{vertex}:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The averaged figures of one vertex over the window.
#[derive(Clone, Debug, Default)]
struct Averaged {
    vertex: VertexFigures,
    busy: Option<f64>,
    rate_in: Option<f64>,
    rate_out: Option<f64>,
}

/// Decides from `history` (oldest first). Rounds before `trusted_from`
/// (the job's start or the last rescale) plus the stabilization interval
/// are not trusted, nor rounds older than the metrics window; a decision
/// needs the trusted rounds to span a whole window.
pub fn decide(
    config: &Autoscaler,
    history: &[VertexSample],
    trusted_from: Timestamp,
    now: Timestamp,
) -> Verdict {
    let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let start = trusted_from
        .millis()
        .saturating_add(millis(config.stabilization));
    let window = millis(config.window);
    if now.millis().saturating_sub(start) < window {
        return Verdict::Collecting;
    }
    let Some(latest) = history.last() else {
        return Verdict::Collecting;
    };
    let from = start.max(now.millis().saturating_sub(window));
    // Only rounds of the current parallelism describe the current job.
    let current: BTreeMap<&str, u32> = latest
        .vertices
        .iter()
        .map(|v| (v.id.as_str(), v.parallelism))
        .collect();
    let rounds: Vec<&VertexSample> = history
        .iter()
        .filter(|r| r.at.millis() >= from)
        .filter(|r| {
            r.vertices.len() == current.len()
                && r.vertices
                    .iter()
                    .all(|v| current.get(v.id.as_str()) == Some(&v.parallelism))
        })
        .collect();
    if rounds.is_empty() {
        return Verdict::Collecting;
    }
    let averaged: BTreeMap<String, Averaged> = latest
        .vertices
        .iter()
        .map(|v| {
            let mean = |pick: fn(&VertexFigures) -> Option<f64>| {
                let values: Vec<f64> = rounds
                    .iter()
                    .filter_map(|r| r.vertices.iter().find(|x| x.id == v.id).and_then(pick))
                    .collect();
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
            };
            let figures = Averaged {
                vertex: v.clone(),
                busy: mean(|x| x.busy_ratio),
                rate_in: mean(|x| x.records_in_per_second),
                rate_out: mean(|x| x.records_out_per_second),
            };
            (v.id.clone(), figures)
        })
        .collect();
    let mut targets = BTreeMap::new();
    let mut parallelism = BTreeMap::new();
    let mut changes = Vec::new();
    for (id, a) in &averaged {
        let p = a.vertex.parallelism.max(1);
        let new = match (target_rate(id, &averaged, &mut targets, 0), a.busy) {
            (Some(target), Some(busy)) => {
                scaled(config, a, p, target, busy).map(|(new, utilization)| {
                    if new != p {
                        changes.push(format!(
                            "{} {p}→{new} (busy {:.0}%, takes {:.1}/s, must take {:.1}/s: \
                             {:.0}% of its capacity, target {:.0}%)",
                            a.vertex.name,
                            busy * 100.0,
                            processed(a).unwrap_or(0.0),
                            target,
                            utilization * 100.0,
                            config.target_utilization * 100.0
                        ));
                    }
                    new
                })
            }
            _ => None,
        };
        parallelism.insert(id.clone(), new.unwrap_or(p));
    }
    if changes.is_empty() {
        return Verdict::Hold;
    }
    Verdict::Rescale(Rescale {
        parallelism,
        how: RescaleHow::default(),
        summary: format!(
            "averaged over {} rounds of {} s: {}",
            rounds.len(),
            config.window.as_secs(),
            changes.join("; ")
        ),
    })
}

/// What a vertex processes per second: what a source emits, what any
/// other vertex takes in.
fn processed(a: &Averaged) -> Option<f64> {
    if a.vertex.inputs.is_empty() {
        a.rate_out
    } else {
        a.rate_in
    }
}

/// The rate a vertex must take: a source's own; any other's, the sum of
/// its inputs' target rates, each through that input's output ratio.
fn target_rate(
    id: &str,
    all: &BTreeMap<String, Averaged>,
    memo: &mut BTreeMap<String, Option<f64>>,
    depth: usize,
) -> Option<f64> {
    if let Some(known) = memo.get(id) {
        return *known;
    }
    let a = all.get(id)?;
    // A plan is acyclic; a malformed one must not recurse for ever.
    if depth > all.len() {
        return None;
    }
    let rate = if a.vertex.inputs.is_empty() {
        a.rate_out
    } else {
        let mut sum = 0.0;
        for input in &a.vertex.inputs {
            let upstream = all.get(input)?;
            let target = target_rate(input, all, memo, depth + 1)?;
            let ratio = if upstream.vertex.inputs.is_empty() {
                1.0
            } else {
                match (upstream.rate_in, upstream.rate_out) {
                    (Some(i), Some(o)) if i > 0.0 => o / i,
                    _ => return None,
                }
            };
            sum += target * ratio;
        }
        Some(sum)
    };
    memo.insert(id.to_owned(), rate);
    rate
}

/// The new parallelism of a vertex and its expected utilization, or `None`
/// when its figures say nothing (it processed nothing).
fn scaled(config: &Autoscaler, a: &Averaged, p: u32, target: f64, busy: f64) -> Option<(u32, f64)> {
    let rate = processed(a).filter(|r| *r > 0.0)?;
    // What it could take at full use, and the share the target would use:
    // none of it for a vertex that processes records without being busy
    // (Flink reports 0 ms busy for work too small to measure).
    let utilization = if busy > 0.0 {
        target / (rate / busy.min(1.0))
    } else {
        0.0
    };
    if (utilization - config.target_utilization).abs() <= config.boundary {
        return Some((p, utilization));
    }
    let factor = (utilization / config.target_utilization).clamp(
        1.0 - config.scale_down_max_factor,
        1.0 + config.scale_up_max_factor,
    );
    // A hair below a whole number is that number, not the next.
    let wanted = (f64::from(p) * factor - 1e-9).ceil().max(1.0);
    let ceiling = a
        .vertex
        .max_parallelism
        .map_or(config.max_parallelism, |m| m.min(config.max_parallelism));
    let new = if wanted >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        wanted as u32
    };
    let new = new
        .min(ceiling)
        .max(config.min_parallelism.min(ceiling))
        .max(1);
    Some((new, utilization))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> Autoscaler {
        Autoscaler {
            stabilization: Duration::from_secs(10),
            window: Duration::from_secs(20),
            ..Autoscaler::default()
        }
    }

    /// Aims at 60..80% busy instead of the operator's 40..100%.
    fn narrow() -> Autoscaler {
        Autoscaler {
            boundary: 0.1,
            ..config()
        }
    }

    fn vertex(id: &str, p: u32, inputs: &[&str], busy: f64, rin: f64, rout: f64) -> VertexFigures {
        VertexFigures {
            id: id.into(),
            name: id.into(),
            parallelism: p,
            max_parallelism: Some(128),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            busy_ratio: Some(busy),
            backpressure_ratio: Some(0.0),
            records_in_per_second: Some(rin),
            records_out_per_second: Some(rout),
        }
    }

    /// Rounds every 2 s from `from` to `to` seconds, all alike.
    fn rounds(from: i64, to: i64, vertices: Vec<VertexFigures>) -> Vec<VertexSample> {
        (from..=to)
            .step_by(2)
            .map(|s| VertexSample {
                at: Timestamp::from_millis(s * 1000).unwrap(),
                vertices: vertices.clone(),
            })
            .collect()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000).unwrap()
    }

    /// A source at 200/s feeding a vertex that is `busy` at `p`.
    fn job(p: u32, busy: f64, rate: f64) -> Vec<VertexFigures> {
        vec![
            vertex("src", 1, &[], 0.05, 0.0, rate),
            vertex("burn", p, &["src"], busy, rate, rate),
        ]
    }

    fn rescaled(verdict: Verdict) -> BTreeMap<String, u32> {
        match verdict {
            Verdict::Rescale(r) => r.parallelism,
            other => panic!("expected a rescale, got {other:?}"),
        }
    }

    #[test]
    fn nothing_is_decided_before_a_full_trusted_window() {
        let history = rounds(0, 28, job(1, 0.95, 200.0));
        // Trusted from 10 s (start + stabilization): 20 s pass at 30 s.
        assert_eq!(
            decide(&config(), &history, at(0), at(28)),
            Verdict::Collecting
        );
        assert_ne!(
            decide(&config(), &history, at(0), at(30)),
            Verdict::Collecting
        );
        // A rescale restarts the clock.
        assert_eq!(
            decide(&config(), &history, at(5), at(30)),
            Verdict::Collecting
        );
        assert_eq!(decide(&config(), &[], at(0), at(60)), Verdict::Collecting);
    }

    #[test]
    fn a_busy_vertex_is_scaled_up_to_the_target_and_the_source_stays() {
        let history = rounds(0, 40, job(1, 0.95, 200.0));
        // Within the operator's default bounds (up to 100% busy).
        assert_eq!(decide(&config(), &history, at(0), at(40)), Verdict::Hold);
        let p = rescaled(decide(&narrow(), &history, at(0), at(40)));
        // 0.95 / 0.7 = 1.36 → 2; the idle source is at its minimum already.
        assert_eq!(p["burn"], 2);
        assert_eq!(p["src"], 1);
    }

    #[test]
    fn a_throttled_vertex_counts_what_its_source_emits() {
        // The source emits 300/s; the vertex takes 200/s while fully busy.
        let vertices = vec![
            vertex("src", 1, &[], 0.05, 0.0, 300.0),
            vertex("burn", 1, &["src"], 1.0, 200.0, 200.0),
        ];
        let p = rescaled(decide(&config(), &rounds(0, 40, vertices), at(0), at(40)));
        // Needs 300 / (200 × 0.7) = 2.14 → 3.
        assert_eq!(p["burn"], 3);
    }

    #[test]
    fn within_the_boundary_nothing_changes_and_idle_is_scaled_down() {
        let steady = rounds(0, 40, job(2, 0.5, 200.0));
        assert_eq!(decide(&config(), &steady, at(0), at(40)), Verdict::Hold);
        let idle = rounds(0, 40, job(4, 0.02, 200.0));
        // 0.02 / 0.7 → at most 60% down: 4 → 2 (1.6, up).
        assert_eq!(rescaled(decide(&config(), &idle, at(0), at(40)))["burn"], 2);
        let idle = rounds(0, 40, job(2, 0.02, 200.0));
        assert_eq!(rescaled(decide(&config(), &idle, at(0), at(40)))["burn"], 1);
    }

    #[test]
    fn bounds_and_rounds_of_another_parallelism() {
        let mut limited = narrow();
        limited.max_parallelism = 3;
        // The source would emit 5000/s, the vertex takes 1000/s: 8 wanted.
        let mut vertices = job(1, 1.0, 1000.0);
        vertices[0].records_out_per_second = Some(5000.0);
        let history = rounds(0, 40, vertices);
        assert_eq!(
            rescaled(decide(&narrow(), &history, at(0), at(40)))["burn"],
            8
        );
        assert_eq!(
            rescaled(decide(&limited, &history, at(0), at(40)))["burn"],
            3
        );
        // Only rounds of the latest parallelism count: the older ones at
        // parallelism 1 (busy) are ignored, the recent ones at 2 are steady.
        let mut mixed = rounds(0, 30, job(1, 1.0, 200.0));
        mixed.extend(rounds(32, 40, job(2, 0.5, 200.0)));
        assert_eq!(decide(&config(), &mixed, at(0), at(40)), Verdict::Hold);
        // Records taken without measurable busy time: as idle as can be.
        let idle = rounds(0, 40, job(2, 0.0, 200.0));
        assert_eq!(rescaled(decide(&config(), &idle, at(0), at(40)))["burn"], 1);
        // Nothing taken says nothing.
        let still = rounds(0, 40, job(2, 0.0, 0.0));
        assert_eq!(decide(&config(), &still, at(0), at(40)), Verdict::Hold);
        // No figures, no decision.
        let mut unknown = job(1, 0.9, 200.0);
        unknown[1].busy_ratio = None;
        assert_eq!(
            decide(&config(), &rounds(0, 40, unknown), at(0), at(40)),
            Verdict::Hold
        );
    }

    #[test]
    fn output_ratios_carry_the_rate_down_the_graph() {
        // A filter passes half; the vertex after it must take 100/s.
        let vertices = vec![
            vertex("src", 1, &[], 0.05, 0.0, 200.0),
            vertex("filter", 1, &["src"], 0.5, 200.0, 100.0),
            vertex("burn", 1, &["filter"], 0.98, 100.0, 100.0),
        ];
        let p = rescaled(decide(&narrow(), &rounds(0, 40, vertices), at(0), at(40)));
        assert_eq!((p["filter"], p["burn"]), (1, 2));
    }
}
