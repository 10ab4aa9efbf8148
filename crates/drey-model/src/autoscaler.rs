//! The autoscaler an application asks for, with the Flink Kubernetes
//! Operator's own `job.autoscaler.*` option names and defaults, so a spec
//! written for the operator means the same here.

use crate::application::configuration_text;
use crate::duration::parse_flink_duration;
use crate::Error;
use serde_json::Value;
use std::time::Duration;

/// `"true"` turns the autoscaler on.
pub const ENABLED: &str = "job.autoscaler.enabled";
/// `"false"`: decide and say so in events, change nothing.
pub const SCALING_ENABLED: &str = "job.autoscaler.scaling.enabled";
/// The busy share of each vertex the autoscaler aims at (0.7).
pub const TARGET_UTILIZATION: &str = "job.autoscaler.target.utilization";
/// How far from the target a vertex may be before it is rescaled (0.3).
pub const TARGET_UTILIZATION_BOUNDARY: &str = "job.autoscaler.target.utilization.boundary";
/// After a start or a rescale, how long the metrics are not trusted (5 min).
pub const STABILIZATION_INTERVAL: &str = "job.autoscaler.stabilization.interval";
/// How long the metrics are averaged over before a decision (15 min).
pub const METRICS_WINDOW: &str = "job.autoscaler.metrics.window";
/// The largest step up: a new parallelism is at most `p × (1 + factor)`.
pub const SCALE_UP_MAX_FACTOR: &str = "job.autoscaler.scale-up.max-factor";
/// The largest step down: a new parallelism is at least `p × (1 − factor)`.
pub const SCALE_DOWN_MAX_FACTOR: &str = "job.autoscaler.scale-down.max-factor";
/// No vertex is scaled below this (1).
pub const VERTEX_MIN_PARALLELISM: &str = "job.autoscaler.vertex.min-parallelism";
/// No vertex is scaled above this (200), nor above its max parallelism.
pub const VERTEX_MAX_PARALLELISM: &str = "job.autoscaler.vertex.max-parallelism";

/// The autoscaler's settings, each at the operator's default unless set.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    /// Whether decisions are carried out (or only reported).
    pub scaling: bool,
    /// The target busy share, 0..1.
    pub target_utilization: f64,
    /// The allowed distance from the target.
    pub boundary: f64,
    /// Metrics after a start or rescale that are not trusted.
    pub stabilization: Duration,
    /// The averaging window.
    pub window: Duration,
    /// See [`SCALE_UP_MAX_FACTOR`].
    pub scale_up_max_factor: f64,
    /// See [`SCALE_DOWN_MAX_FACTOR`].
    pub scale_down_max_factor: f64,
    /// See [`VERTEX_MIN_PARALLELISM`].
    pub min_parallelism: u32,
    /// See [`VERTEX_MAX_PARALLELISM`].
    pub max_parallelism: u32,
}

impl Default for Autoscaler {
    fn default() -> Self {
        Autoscaler {
            scaling: true,
            target_utilization: 0.7,
            boundary: 0.3,
            stabilization: Duration::from_secs(300),
            window: Duration::from_secs(900),
            scale_up_max_factor: 100_000.0,
            scale_down_max_factor: 0.6,
            min_parallelism: 1,
            max_parallelism: 200,
        }
    }
}

impl Autoscaler {
    /// The autoscaler an effective configuration turns on, `None` when off.
    /// Values that do not parse count as the defaults ([`check`] refuses
    /// them in an application; an environment's defaults are not checked).
    pub fn of(conf: &Value) -> Option<Autoscaler> {
        let text = |key| configuration_text(conf, key);
        if !text(ENABLED).is_some_and(|t| t.eq_ignore_ascii_case("true")) {
            return None;
        }
        let d = Autoscaler::default();
        let number = |key, default: f64| {
            text(key)
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .unwrap_or(default)
        };
        let whole = |key, default: u32| {
            text(key)
                .and_then(|t| t.parse::<u32>().ok())
                .unwrap_or(default)
        };
        let duration = |key, default| {
            text(key)
                .and_then(|t| parse_flink_duration(&t))
                .unwrap_or(default)
        };
        Some(Autoscaler {
            scaling: !text(SCALING_ENABLED).is_some_and(|t| t.eq_ignore_ascii_case("false")),
            target_utilization: number(TARGET_UTILIZATION, d.target_utilization),
            boundary: number(TARGET_UTILIZATION_BOUNDARY, d.boundary),
            stabilization: duration(STABILIZATION_INTERVAL, d.stabilization),
            window: duration(METRICS_WINDOW, d.window),
            scale_up_max_factor: number(SCALE_UP_MAX_FACTOR, d.scale_up_max_factor),
            scale_down_max_factor: number(SCALE_DOWN_MAX_FACTOR, d.scale_down_max_factor),
            min_parallelism: whole(VERTEX_MIN_PARALLELISM, d.min_parallelism).max(1),
            max_parallelism: whole(VERTEX_MAX_PARALLELISM, d.max_parallelism).max(1),
        })
    }
}

/// Refuses an application's `job.autoscaler.*` value that does not parse as
/// the operator parses it, naming the option.
pub fn check(conf: &Value) -> Result<(), Error> {
    let bad = |key: &str, what: &str, value: &str| {
        Err(Error::invalid(
            format!("spec.flinkConfiguration.{key}"),
            format!("must be {what}, not '{value}'"),
        ))
    };
    for key in [ENABLED, SCALING_ENABLED] {
        if let Some(v) = configuration_text(conf, key) {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return bad(key, "'true' or 'false'", &v);
            }
        }
    }
    for key in [TARGET_UTILIZATION, TARGET_UTILIZATION_BOUNDARY] {
        if let Some(v) = configuration_text(conf, key) {
            if !v.parse::<f64>().is_ok_and(|f| f > 0.0 && f <= 1.0) {
                return bad(key, "a number above 0 and at most 1", &v);
            }
        }
    }
    for key in [SCALE_UP_MAX_FACTOR, SCALE_DOWN_MAX_FACTOR] {
        if let Some(v) = configuration_text(conf, key) {
            if !v.parse::<f64>().is_ok_and(|f| f.is_finite() && f >= 0.0) {
                return bad(key, "a number of at least 0", &v);
            }
        }
    }
    if let Some(v) = configuration_text(conf, SCALE_DOWN_MAX_FACTOR) {
        if !v.parse::<f64>().is_ok_and(|f| f < 1.0) {
            return bad(SCALE_DOWN_MAX_FACTOR, "below 1", &v);
        }
    }
    for key in [VERTEX_MIN_PARALLELISM, VERTEX_MAX_PARALLELISM] {
        if let Some(v) = configuration_text(conf, key) {
            if !v.parse::<u32>().is_ok_and(|n| n >= 1) {
                return bad(key, "a positive whole number", &v);
            }
        }
    }
    for key in [STABILIZATION_INTERVAL, METRICS_WINDOW] {
        if let Some(v) = configuration_text(conf, key) {
            if parse_flink_duration(&v).is_none() {
                return bad(key, "a duration such as '5 min' or '30s'", &v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn off_unless_enabled_and_the_operators_defaults() {
        assert_eq!(Autoscaler::of(&json!({})), None);
        assert_eq!(Autoscaler::of(&json!({ENABLED: "false"})), None);
        assert_eq!(
            Autoscaler::of(&json!({ENABLED: "true"})),
            Some(Autoscaler::default())
        );
        let set = Autoscaler::of(&json!({
            ENABLED: "TRUE",
            SCALING_ENABLED: "false",
            TARGET_UTILIZATION: "0.5",
            METRICS_WINDOW: "20s",
            VERTEX_MAX_PARALLELISM: 4,
        }))
        .unwrap();
        assert!(!set.scaling);
        assert_eq!(set.target_utilization, 0.5);
        assert_eq!(set.window, Duration::from_secs(20));
        assert_eq!(set.max_parallelism, 4);
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (key, value) in [
            (ENABLED, "yes"),
            (TARGET_UTILIZATION, "1.5"),
            (TARGET_UTILIZATION_BOUNDARY, "x"),
            (SCALE_DOWN_MAX_FACTOR, "1"),
            (SCALE_UP_MAX_FACTOR, "-1"),
            (VERTEX_MIN_PARALLELISM, "0"),
            (METRICS_WINDOW, "soon"),
        ] {
            let err = check(&json!({ key: value })).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
        assert!(check(&json!({ENABLED: "true", METRICS_WINDOW: "1 min"})).is_ok());
    }
}
