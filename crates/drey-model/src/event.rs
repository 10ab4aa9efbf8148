//! The typed event of an application or a registered cluster: what
//! happened, as drey records it.
//! Only drey writes events; it reads any stored one (see
//! [`crate::loose::lenient`]).

use crate::loose::lenient;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kinds of event drey records, as every dialect spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum EventType {
    /// The application was created.
    ApplicationCreated,
    /// Its spec was written.
    ApplicationUpdated,
    /// A new instance (deployment) was created.
    InstanceCreated,
    /// A Flink cluster came up.
    ClusterStarted,
    /// A Flink cluster waits: it does not fit in memory now.
    ClusterWaiting,
    /// A Flink cluster was stopped.
    ClusterStopped,
    /// A Flink cluster's processes died.
    ClusterLost,
    /// A job was submitted.
    JobSubmitted,
    /// A job changed state (`data.newStatus`).
    JobStatus,
    /// A job failed with an exception (`data.exceptionString`).
    JobException,
    /// A job was cancelled.
    JobCancelled,
    /// A savepoint was triggered.
    SavepointTriggered,
    /// A savepoint completed.
    SavepointCompleted,
    /// A JobManager whose processes live stopped answering.
    JobManagerNotAnswering,
    /// A silent JobManager answers again.
    JobManagerAnswering,
    /// Something went wrong.
    Error,
    /// A registered Flink cluster answers (again).
    ClusterConnected,
    /// A registered Flink cluster does not answer.
    ClusterDisconnected,
    /// A registered Flink cluster was decommissioned.
    ClusterDecommissioned,
    /// The health check found a job unhealthy; it is redeployed.
    JobUnhealthy,
    /// The autoscaler rescaled a job, or would have (its inputs in the
    /// message; the operator's `ScalingReport`).
    JobRescaled,
}

impl EventType {
    const ALL: [EventType; 21] = [
        EventType::ApplicationCreated,
        EventType::ApplicationUpdated,
        EventType::InstanceCreated,
        EventType::ClusterStarted,
        EventType::ClusterWaiting,
        EventType::ClusterStopped,
        EventType::ClusterLost,
        EventType::JobSubmitted,
        EventType::JobStatus,
        EventType::JobException,
        EventType::JobCancelled,
        EventType::SavepointTriggered,
        EventType::SavepointCompleted,
        EventType::JobManagerNotAnswering,
        EventType::JobManagerAnswering,
        EventType::Error,
        EventType::ClusterConnected,
        EventType::ClusterDisconnected,
        EventType::ClusterDecommissioned,
        EventType::JobUnhealthy,
        EventType::JobRescaled,
    ];

    /// The type as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ApplicationCreated => "APPLICATION_CREATED",
            EventType::ApplicationUpdated => "APPLICATION_UPDATED",
            EventType::InstanceCreated => "INSTANCE_CREATED",
            EventType::ClusterStarted => "CLUSTER_STARTED",
            EventType::ClusterWaiting => "CLUSTER_WAITING_FOR_MEMORY",
            EventType::ClusterStopped => "CLUSTER_STOPPED",
            EventType::ClusterLost => "CLUSTER_LOST",
            EventType::JobSubmitted => "JOB_SUBMITTED",
            EventType::JobStatus => "JOB_STATUS",
            EventType::JobException => "JOB_EXCEPTION",
            EventType::JobCancelled => "JOB_CANCELLED",
            EventType::SavepointTriggered => "SAVEPOINT_TRIGGERED",
            EventType::SavepointCompleted => "SAVEPOINT_COMPLETED",
            EventType::JobManagerNotAnswering => "JOBMANAGER_NOT_ANSWERING",
            EventType::JobManagerAnswering => "JOBMANAGER_ANSWERING",
            EventType::Error => "ERROR",
            EventType::ClusterConnected => "CLUSTER_CONNECTED",
            EventType::ClusterDisconnected => "CLUSTER_DISCONNECTED",
            EventType::ClusterDecommissioned => "CLUSTER_DECOMMISSIONED",
            EventType::JobUnhealthy => "JOB_UNHEALTHY",
            EventType::JobRescaled => "JOB_RESCALED",
        }
    }
}

impl From<EventType> for &'static str {
    fn from(t: EventType) -> Self {
        t.as_str()
    }
}

impl TryFrom<String> for EventType {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| format!("not an event type drey records: {text}"))
    }
}

/// `spec` of an event: what it is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventSpec {
    /// The instance (deployment) it concerns, if one.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub flink_application_instance: Option<String>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status` of an event: what happened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventStatus {
    /// Its kind.
    #[serde(
        rename = "type",
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type: Option<EventType>,
    /// What a person reads.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What a program reads.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub data: Option<EventData>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status.data` of an event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventData {
    /// The job's new state (`JOB_STATUS`, `CLUSTER_LOST`).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub new_status: Option<String>,
    /// The job's exception (`JOB_EXCEPTION`).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub exception_string: Option<String>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EventData {
    /// A job's new state.
    pub fn new_status(state: &str) -> Self {
        EventData {
            new_status: Some(state.to_owned()),
            ..EventData::default()
        }
    }

    /// A job's exception.
    pub fn exception(trace: &str) -> Self {
        EventData {
            exception_string: Some(trace.to_owned()),
            ..EventData::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::{to_json, view};
    use serde_json::json;

    #[test]
    fn every_type_reads_back_as_itself() {
        for t in EventType::ALL {
            assert_eq!(to_json(&t), json!(t.as_str()));
            assert_eq!(
                serde_json::from_value::<EventType>(to_json(&t)).ok(),
                Some(t)
            );
        }
    }

    #[test]
    fn an_event_round_trips_and_an_unknown_type_reads_as_absent() {
        let given = json!({"type": "JOB_STATUS", "message": "Job j is RUNNING",
                           "data": {"newStatus": "RUNNING"}});
        let status: EventStatus = view(&given);
        assert_eq!(status.event_type, Some(EventType::JobStatus));
        assert_eq!(to_json(&status), given);
        let old: EventStatus = view(&json!({"type": "SOMETHING_ELSE", "message": "m"}));
        assert_eq!((old.event_type, old.message.as_deref()), (None, Some("m")));
        let spec: EventSpec = view(&json!({"flinkApplicationInstance": "i"}));
        assert_eq!(spec.flink_application_instance.as_deref(), Some("i"));
    }
}
