//! Application events: what happened, newest first, the last 100 kept.

use super::ApplicationReconciler;
use crate::store_error;
use drey_model::application_spec::ApplicationStatus;
use drey_model::event::{EventData, EventSpec, EventStatus, EventType};
use drey_model::loose::{to_json, view};
use drey_model::object::app_scope;
use drey_model::page::{SortDirection, SortKey, SortOrder};
use drey_model::{Error, Kind, Object, ObjectKey, PageRequest};
use drey_store::{Delete, ListQuery, Write, WriteMode};

/// How many instances and events are kept per application.
pub const KEEP: u32 = 100;

impl ApplicationReconciler {
    /// Records an event for an application.
    pub(super) async fn event(
        &self,
        app: &Object,
        instance: Option<&str>,
        kind: EventType,
        message: &str,
        data: Option<EventData>,
    ) -> Result<(), Error> {
        record(
            self.core.store().as_ref(),
            &app.key,
            instance,
            kind,
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

/// Writes one event object under an application. Every event carries
/// `status.data` in one of the two shapes CMF documents (its SDKs decode it
/// with a strict `oneOf`): the exception for a job's exception, else the
/// application's status once the event happened (`newStatus`: the job's
/// state, or the lifecycle state while no job runs).
pub(crate) async fn record(
    store: &dyn drey_store::Store,
    app: &ObjectKey,
    instance: Option<&str>,
    kind: EventType,
    message: &str,
    data: Option<EventData>,
) -> Result<(), Error> {
    let data = match data {
        Some(data) => data,
        None => EventData::new_status(&status_now(store, app).await?),
    };
    let name = uuid::Uuid::new_v4().to_string();
    let spec = EventSpec {
        flink_application_instance: instance.map(str::to_owned),
        ..EventSpec::default()
    };
    let status = EventStatus {
        event_type: Some(kind),
        message: Some(message.to_owned()),
        data: Some(data),
        ..EventStatus::default()
    };
    let mut write = Write::new(
        ObjectKey::in_app(&app.org, Kind::Event, &app.scope, &app.name, &name),
        WriteMode::Create,
        to_json(&spec),
    );
    write.status = Some(to_json(&status));
    store.write(write).await.map_err(store_error)?;
    Ok(())
}

/// The application's status as an event's `newStatus` names it.
async fn status_now(store: &dyn drey_store::Store, app: &ObjectKey) -> Result<String, Error> {
    let Some(object) = store.get(app).await.map_err(store_error)? else {
        return Ok("DELETED".to_owned());
    };
    let status: ApplicationStatus = view(&object.status);
    let job = status.job_state();
    Ok(if !job.is_empty() {
        job.to_owned()
    } else {
        status
            .lifecycle()
            .and_then(|l| to_json(&l).as_str().map(str::to_owned))
            .unwrap_or_else(|| "CREATED".to_owned())
    })
}
