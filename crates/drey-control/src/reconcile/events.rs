//! Application events: what happened, newest first, the last 100 kept.

use super::ApplicationReconciler;
use crate::store_error;
use drey_model::object::app_scope;
use drey_model::page::{SortDirection, SortKey, SortOrder};
use drey_model::{Error, Kind, Object, ObjectKey, PageRequest};
use drey_store::{Delete, ListQuery, Write, WriteMode};
use serde_json::{json, Value};

/// How many instances and events are kept per application.
pub const KEEP: u32 = 100;

/// The kinds of event drey records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
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
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
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
        }
    }
}

impl ApplicationReconciler {
    /// Records an event for an application.
    pub(super) async fn event(
        &self,
        app: &Object,
        instance: Option<&str>,
        kind: EventType,
        message: &str,
        data: Option<Value>,
    ) -> Result<(), Error> {
        record(
            self.core.store().as_ref(),
            &app.key,
            instance,
            kind.as_str(),
            message,
            data,
        )
        .await?;
        self.trim(&app.key, Kind::Event).await
    }

    /// Keeps only the newest [`KEEP`] objects of a kind under an application.
    pub(super) async fn trim(&self, app: &ObjectKey, kind: Kind) -> Result<(), Error> {
        let scope = app_scope(&app.scope, &app.name);
        let page = self
            .core
            .store()
            .list(&ListQuery {
                org: app.org.clone(),
                kind,
                scope: Some(scope),
                filters: vec![],
                page: PageRequest {
                    page: 1,
                    size: KEEP,
                    sort: vec![SortOrder {
                        key: SortKey::CreationTime,
                        direction: SortDirection::Desc,
                    }],
                },
            })
            .await
            .map_err(store_error)?;
        for old in page.items {
            self.core
                .store()
                .delete(Delete::new(old.key))
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

/// Writes one event object under an application.
pub(crate) async fn record(
    store: &dyn drey_store::Store,
    app: &ObjectKey,
    instance: Option<&str>,
    kind: &str,
    message: &str,
    data: Option<Value>,
) -> Result<(), Error> {
    let name = uuid::Uuid::new_v4().to_string();
    let mut spec = json!({});
    if let (Some(instance), Some(map)) = (instance, spec.as_object_mut()) {
        map.insert("flinkApplicationInstance".into(), json!(instance));
    }
    let mut status = json!({"type": kind, "message": message});
    if let (Some(data), Some(map)) = (data, status.as_object_mut()) {
        map.insert("data".into(), data);
    }
    let mut write = Write::new(
        ObjectKey::in_app(&app.org, Kind::Event, &app.scope, &app.name, &name),
        WriteMode::Create,
        spec,
    );
    write.status = Some(status);
    store.write(write).await.map_err(store_error)?;
    Ok(())
}
