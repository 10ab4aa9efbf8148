//! Deploying an application: a new instance, its cluster (own or a pool's), its jar, its job.

use super::*;
use drey_model::application_spec::{InstanceStatus, ReconciliationStatus};
use drey_model::compute_pool_spec::ClusterInfo;

impl ApplicationReconciler {
    pub(super) async fn new_deployment(
        &self,
        step: Step<'_>,
        restore_from: Option<String>,
    ) -> Result<(), Error> {
        step.backend()?;
        let app = step.app;
        // A retained checkpoint can be subsumed (and deleted) by a newer one
        // between the moment it was recorded and the job's end: restore from
        // the newest one still on disk instead (where the backend's state is
        // on this machine).
        let restore_from = restore_from.map(|p| match step.local_state_dirs() {
            Some(dirs) => usable_restore_point(p, &dirs.checkpoints),
            None => p,
        });
        // A jar that cannot be had is the spec's fault: say so and wait for
        // the spec to change instead of retrying.
        let uri = step
            .effective
            .pointer("/job/jarURI")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Err(e) = self.jar_path(app, uri).await {
            if let Error::Invalid { .. } = e {
                let mut recorded = step.recorded.clone();
                recorded.halted_fingerprint = Some(step.desired.fingerprint.clone());
                let message = e.to_string();
                self.record(&step, &recorded, |status| {
                    status.lifecycle_state = Some(Lifecycle::Failed);
                    status.error = Some(message.clone());
                })
                .await?;
                return self
                    .event(app, None, EventType::Error, &message, None)
                    .await;
            }
            return Err(e);
        }
        let session_cluster = self.session_cluster_of(app, step.effective).await?;
        let instance = uuid::Uuid::new_v4();
        let job_id = instance.simple().to_string();
        let env = &app.key.scope;
        let mut write = Write::new(
            ObjectKey::in_app(
                &app.key.org,
                Kind::Instance,
                env,
                &app.key.name,
                &instance.to_string(),
            ),
            WriteMode::Create,
            json!({}),
        );
        write.status = Some(to_json(&InstanceStatus {
            spec: Some(view(step.effective)),
            job_status: Some(JobStatus {
                job_id: Some(job_id.clone()),
                state: Some("CREATED".into()),
                ..JobStatus::default()
            }),
            ..InstanceStatus::default()
        }));
        self.core.store().write(write).await.map_err(store_error)?;
        self.trim(&app.key, Kind::Instance).await?;

        let mut recorded = step.recorded.clone();
        recorded.savepoint_clock = Some(Timestamp::now());
        recorded.deployment = Some(Deployment {
            instance: instance.to_string(),
            job_id: job_id.clone(),
            session: session_cluster.is_some() || step.existing_cluster.is_some(),
            existing_cluster: step.existing_cluster.map(str::to_owned),
            cluster_id: session_cluster
                .or_else(|| step.existing_cluster.map(str::to_owned))
                .unwrap_or_else(|| format!("{APP_CLUSTER_PREFIX}{job_id}")),
            fingerprint: step.desired.fingerprint.clone(),
            restore_from: restore_from.clone(),
            cluster_launched: false,
            cluster_started: false,
            job_submitted: false,
        });
        recorded.deployed_before = true;
        recorded.halted_fingerprint = None;
        recorded.seen_checkpoint = None;
        self.record(&step, &recorded, |status| {
            if status.lifecycle_state != Some(Lifecycle::Upgrading) {
                status.lifecycle_state = Some(Lifecycle::Deployed);
            }
            status.current_deployed_instance_name = Some(instance.to_string());
            status.error = None;
            status.reconciliation_status = Some(ReconciliationStatus {
                state: "DEPLOYED".into(),
                last_reconciled_spec: serde_json::to_string(step.effective).unwrap_or_default(),
            });
            status.job_status = Some(JobStatus {
                job_id: Some(job_id.clone()),
                job_name: Some(app.key.name.clone()),
                state: Some("RECONCILING".into()),
                update_time: Some(Timestamp::now()),
                upgrade_savepoint_path: restore_from.clone(),
                ..JobStatus::default()
            });
        })
        .await?;
        self.event(
            app,
            Some(&instance.to_string()),
            EventType::InstanceCreated,
            &match &restore_from {
                Some(p) => format!("Created instance {instance}; the job restores from {p}"),
                None => format!("Created instance {instance}; the job starts without state"),
            },
            None,
        )
        .await
    }

    pub(super) fn cluster_spec(&self, step: &Step<'_>, deployment: &Deployment) -> ClusterSpec {
        let mut spec = self
            .config
            .cluster_spec(deployment.cluster_id.clone(), step.effective);
        let conf = std::mem::take(&mut spec.flink_configuration);
        spec.flink_configuration = self.with_state_locations(step, conf);
        // The autoscaler's parallelism: per vertex for the Dispatcher, and
        // slots for the largest (unless the spec fixes the TaskManagers).
        let fingerprint = &step.desired.fingerprint;
        spec.flink_configuration
            .extend(super::rescale::submission_overrides(
                &step.recorded,
                fingerprint,
            ));
        if let Some(p) = super::rescale::submission_parallelism(&step.recorded, fingerprint) {
            if step.effective.pointer("/taskManager/replicas").is_none() {
                let needed = p.div_ceil(spec.slots_per_task_manager.max(1));
                spec.task_managers = spec.task_managers.max(needed);
            }
        }
        spec.owner = Some(owner_of(&step.app.key));
        // The savepoint or checkpoint the job starts from (its own cluster
        // sees nothing else of the data dir's state).
        if let Some(path) = deployment
            .restore_from
            .as_deref()
            .and_then(crate::retention::local_path)
        {
            spec.restore_dirs.push(path);
        }
        spec
    }

    /// Where the application's checkpoints and savepoints go (as its
    /// backend says), over its own configuration: for its own cluster, or
    /// for its job in a cluster it shares (as job-level configuration).
    pub(super) fn with_state_locations(
        &self,
        step: &Step<'_>,
        mut conf: std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let locations = step.state_locations();
        // drey owns these (drey_model::flink_options): its values win over
        // any that reached the spec. Where the backend names no location
        // the cluster's own configuration applies.
        if let Some(dir) = locations.checkpoints {
            conf.insert("execution.checkpointing.dir".into(), dir);
        }
        if let Some(dir) = locations.savepoints {
            conf.insert("execution.checkpointing.savepoint-dir".into(), dir);
        }
        conf.entry("execution.checkpointing.externalized-checkpoint-retention".into())
            .or_insert_with(|| "RETAIN_ON_CANCELLATION".into());
        if step.desired.upgrade_mode == UpgradeMode::LastState {
            conf.entry("execution.checkpointing.interval".into())
                .or_insert_with(|| "5s".into());
        }
        conf
    }

    /// The compute pool named by `spec.deploymentName`, if the application
    /// runs its job in one (and it exists).
    pub(super) async fn session_pool(
        &self,
        app: &Object,
        effective: &Value,
    ) -> Result<Option<Object>, Error> {
        let Some(name) = effective.get("deploymentName").and_then(Value::as_str) else {
            return Ok(None);
        };
        let key = ObjectKey::in_env(&app.key.org, Kind::ComputePool, &app.key.scope, name);
        self.core.store().get(&key).await.map_err(store_error)
    }

    /// The session cluster of the compute pool named by `spec.deploymentName`,
    /// if the application runs its job in one: the pool's own cluster, or the
    /// registered cluster the pool is.
    pub(super) async fn session_cluster_of(
        &self,
        app: &Object,
        effective: &Value,
    ) -> Result<Option<String>, Error> {
        let Some(name) = effective.get("deploymentName").and_then(Value::as_str) else {
            return Ok(None);
        };
        match self.session_pool(app, effective).await? {
            Some(pool) => Ok(Some(
                pools::existing_cluster_of(&pool).unwrap_or_else(|| pools::pool_cluster_id(&pool)),
            )),
            None => Err(Error::Unavailable(format!(
                "compute pool '{name}' does not exist"
            ))),
        }
    }

    /// The "cluster start" of a job in a cluster it shares: a compute
    /// pool's (the pool reconciler starts it) or an existing cluster must be
    /// up and answer; until it is, wait and say why.
    pub(super) async fn join_session_cluster(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let backend = step.backend()?.clone();
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(StepResult::Continue);
        };
        let pool = step
            .effective
            .get("deploymentName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let cluster = backend.look(&deployment.cluster_id).await;
        let drey_model::Observation::Seen(cluster) = cluster else {
            let message = if deployment.existing_cluster.is_some() {
                format!("waiting for {} to answer", backend.describe())
            } else {
                format!("waiting for the session cluster of compute pool '{pool}'")
            };
            if step.status.error.as_deref() != Some(message.as_str()) {
                self.record(&step, &step.recorded, |status| status.error = Some(message))
                    .await?;
            }
            return Ok(StepResult::Done(PassOutcome::Wait(Duration::from_secs(1))));
        };
        let mut recorded = step.recorded.clone();
        if let Some(d) = recorded.deployment.as_mut() {
            d.cluster_started = true;
        }
        self.record(&step, &recorded, |status| {
            status.error = None;
            status.cluster_info = Some(ClusterInfo {
                rest_url: Some(cluster.rest_url()),
                cluster_id: Some(deployment.cluster_id.clone()),
                compute_pool_name: (!pool.is_empty()).then(|| pool.to_owned()),
                ..ClusterInfo::default()
            });
        })
        .await?;
        let message = if deployment.existing_cluster.is_some() {
            let pool = match pool {
                "" => String::new(),
                pool => format!(" (compute pool '{pool}')"),
            };
            format!(
                "The job runs on {} at {}{pool}",
                backend.describe(),
                cluster.rest_url()
            )
        } else {
            format!(
                "The job runs in the session cluster of compute pool '{pool}' at {}",
                cluster.rest_url()
            )
        };
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterStarted,
            &message,
            None,
        )
        .await?;
        Ok(StepResult::Continue)
    }

    /// Starts the deployment's cluster in steps that never block a pass
    /// ([`cluster_start`]).
    pub(super) async fn start_cluster(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(StepResult::Continue);
        };
        let mut recorded = step.recorded.clone();
        let spec = self.cluster_spec(&step, &deployment);
        let started = step
            .backend()?
            .start_step(
                &spec,
                deployment.cluster_launched,
                self.config.cluster_start_timeout,
            )
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let cluster = match started {
            cluster_start::StartStep::Launched => {
                if let Some(d) = recorded.deployment.as_mut() {
                    d.cluster_launched = true;
                }
                self.record(&step, &recorded, |_| {}).await?;
                return Ok(StepResult::Done(PassOutcome::Wait(
                    cluster_start::START_POLL,
                )));
            }
            cluster_start::StartStep::Waiting => {
                return Ok(StepResult::Done(PassOutcome::Wait(
                    cluster_start::START_POLL,
                )));
            }
            cluster_start::StartStep::Failed(message) => {
                if let Some(d) = recorded.deployment.as_mut() {
                    d.cluster_launched = false;
                }
                self.record(&step, &recorded, |status| {
                    status.error = Some(message.clone());
                })
                .await?;
                self.event(step.app, None, EventType::Error, &message, None)
                    .await?;
                return Err(Error::Unavailable(message));
            }
            cluster_start::StartStep::Held(why) => {
                if let Some(d) = recorded.deployment.as_mut() {
                    d.cluster_launched = false;
                }
                if step.status.error.as_deref() != Some(why.as_str()) {
                    self.event(step.app, None, EventType::ClusterWaiting, &why, None)
                        .await?;
                }
                self.record(&step, &recorded, |status| status.error = Some(why))
                    .await?;
                return Ok(StepResult::Done(PassOutcome::Wait(
                    cluster_start::ADMISSION_POLL,
                )));
            }
            cluster_start::StartStep::Ready(cluster) => cluster,
        };
        if let Some(d) = recorded.deployment.as_mut() {
            d.cluster_started = true;
        }
        self.record(&step, &recorded, |status| {
            status.cluster_info = Some(ClusterInfo {
                rest_url: Some(cluster.rest_url()),
                cluster_id: Some(deployment.cluster_id.clone()),
                ..ClusterInfo::default()
            });
        })
        .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterStarted,
            &format!(
                "Flink cluster {} is up with {} TaskManager(s) at {}",
                deployment.cluster_id,
                spec.task_managers,
                cluster.rest_url()
            ),
            None,
        )
        .await?;
        Ok(StepResult::Continue)
    }

    /// Resolves `job.jarURI` to a file on this machine.
    pub(super) async fn jar_path(&self, app: &Object, uri: &str) -> Result<PathBuf, Error> {
        // An artifact of the application's environment, by name and version.
        if uri.starts_with("cmf://") {
            return self
                .core
                .resolve_artifact_uri(&app.key.org, &app.key.scope, uri)
                .await;
        }
        if let Some(path) = uri
            .strip_prefix("local://")
            .or_else(|| uri.strip_prefix("file://"))
        {
            let path = Path::new(path);
            check_jar_path(path, &self.config.jar_dirs)?;
            // Uploaded jars belong to their environment: another's are not there.
            let artifacts = self.config.state_dir.join("artifacts");
            let own = artifacts.join(&app.key.org).join(&app.key.scope);
            let inside = |dir: &Path| {
                path.canonicalize()
                    .ok()
                    .zip(dir.canonicalize().ok())
                    .is_some_and(|(p, d)| p.starts_with(d))
            };
            if inside(&artifacts) && !inside(&own) {
                return Err(Error::invalid(
                    "spec.job.jarURI",
                    format!("{} is an artifact of another environment", path.display()),
                ));
            }
            return Ok(path.to_owned());
        }
        // http(s): downloaded once into the data dir, named by the URI's hash,
        // in the background ([`downloads`]).
        let name = format!("{}.jar", drey_model::application::fingerprint(&json!(uri)));
        let dir = self.config.data_dir.join("jars").join("downloads");
        let path = dir.join(name);
        let max = self.config.retention.download_cache_max_bytes;
        match self.downloads.fetch(uri, path, &dir, max)? {
            downloads::Fetch::Ready(path) => Ok(path),
            downloads::Fetch::Pending => Err(Error::Conflict(DOWNLOADING.into())),
        }
    }

    pub(super) async fn submit_job(&self, step: Step<'_>) -> Result<(), Error> {
        let (Some(cluster), Some(deployment)) = (step.cluster, step.recorded.deployment.clone())
        else {
            return Ok(());
        };
        let client = cluster.client();
        // A retried submission finds the job it already started; without a
        // clear answer either way, nothing is submitted (look again later).
        let already = match client.job_status(&deployment.job_id).await {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => {
                return Err(Error::Unavailable(format!(
                    "cannot tell whether job {} runs: {e}",
                    deployment.job_id
                )))
            }
        };
        if !already {
            match self.run_jar(&client, &step, &deployment).await {
                Ok(()) => {}
                // The jar left the cache and is fetched again: not a failure.
                Err(Error::Conflict(reason)) if reason == DOWNLOADING => {
                    return Err(Error::Conflict(reason))
                }
                Err(e) if vanished_restore_point(&e, &deployment) => {
                    return self.restore_point_vanished(step, &deployment, e).await
                }
                Err(e) => return self.submission_failed(step, &deployment, e).await,
            }
        }
        let mut recorded = step.recorded.clone();
        recorded.failed_submissions = 0;
        if let Some(d) = recorded.deployment.as_mut() {
            d.job_submitted = true;
        }
        recorded.restore_from = None;
        self.record(&step, &recorded, |_| {}).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobSubmitted,
            &format!("Submitted job {}", deployment.job_id),
            None,
        )
        .await
    }

    /// The checkpoint the job was to restore from is gone (subsumed by a
    /// newer one drey did not see before the cluster forgot the job): a new
    /// deployment (a new job id: Flink keeps the failed attempt under the
    /// old one) restores from the application's last savepoint instead, and
    /// an event says so. Not a failed submission.
    async fn restore_point_vanished(
        &self,
        step: Step<'_>,
        deployment: &Deployment,
        error: Error,
    ) -> Result<(), Error> {
        let fallback = step
            .status
            .last_savepoint
            .as_ref()
            .map(|s| s.location.clone())
            .filter(|_| step.desired.upgrade_mode != UpgradeMode::Stateless);
        let gone = deployment.restore_from.clone().unwrap_or_default();
        let mut recorded = step.recorded.clone();
        recorded.deployment = None;
        recorded.restore_from = fallback.clone();
        recorded.seen_checkpoint = None;
        let message = match &fallback {
            Some(savepoint) => format!(
                "checkpoint {gone} no longer exists; a new deployment restores from the last savepoint {savepoint}"
            ),
            None => format!(
                "checkpoint {gone} no longer exists and no savepoint was taken; a new deployment starts without state"
            ),
        };
        tracing::warn!(app = %step.app.key.name, %error, "{message}");
        self.update_instance(step.app, deployment, "FAILED").await?;
        self.record(&step, &recorded, |_| {}).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::Error,
            &message,
            None,
        )
        .await
    }

    /// Counts a failed submission; after `job.maxJobCreationAttempts` the
    /// deployment is taken down and the application is FAILED until its
    /// spec changes, otherwise the submission is retried after a backoff.
    pub(super) async fn submission_failed(
        &self,
        step: Step<'_>,
        deployment: &Deployment,
        error: Error,
    ) -> Result<(), Error> {
        let mut recorded = step.recorded.clone();
        recorded.failed_submissions += 1;
        let attempts = recorded.failed_submissions;
        let exhausted = step
            .desired
            .max_job_attempts
            .is_some_and(|max| attempts >= max);
        let message = if exhausted {
            recorded.halted_fingerprint = Some(deployment.fingerprint.clone());
            recorded.stopping = Some(Stopping {
                reason: StopReason::JobEnded,
                trigger_id: None,
                job_stopped: true,
            });
            format!("the job could not be created in {attempts} attempt(s): {error}")
        } else {
            error.to_string()
        };
        self.record(&step, &recorded, |status| {
            status.error = Some(message.clone());
        })
        .await?;
        self.event(step.app, None, EventType::Error, &message, None)
            .await?;
        if exhausted {
            Ok(())
        } else {
            Err(error)
        }
    }

    pub(super) async fn run_jar(
        &self,
        client: &FlinkClient,
        step: &Step<'_>,
        deployment: &Deployment,
    ) -> Result<(), Error> {
        let job = step.effective.get("job").cloned().unwrap_or(Value::Null);
        let uri = job
            .get("jarURI")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = self.jar_path(step.app, uri).await?;
        if !path.is_file() {
            return Err(Error::invalid(
                "spec.job.jarURI",
                format!("{} does not exist", path.display()),
            ));
        }
        let uploaded = client.upload_jar(&path).await.map_err(|e| {
            Error::invalid(
                "spec.job.jarURI",
                format!("Flink refused the jar {}: {e}", path.display()),
            )
        })?;
        let jar_id = uploaded
            .filename
            .rsplit('/')
            .next()
            .unwrap_or(&uploaded.filename)
            .to_owned();
        let configuration = if deployment.session {
            self.with_state_locations(step, job_configuration(step.effective))
        } else {
            Default::default()
        };
        let autoscaled =
            super::rescale::submission_parallelism(&step.recorded, &step.desired.fingerprint);
        let request = JarRunRequest {
            entry_class: job
                .get("entryClass")
                .and_then(Value::as_str)
                .map(str::to_owned),
            program_args_list: job
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            parallelism: autoscaled.or_else(|| {
                job.get("parallelism")
                    .and_then(Value::as_u64)
                    .and_then(|p| u32::try_from(p).ok())
            }),
            job_id: Some(deployment.job_id.clone()),
            allow_non_restored_state: job.get("allowNonRestoredState").and_then(Value::as_bool),
            savepoint_path: deployment.restore_from.clone(),
            flink_configuration: configuration,
            ..JarRunRequest::default()
        };
        client
            .run_jar(&jar_id, &request)
            .await
            .map_err(|e| Error::Unavailable(format!("Flink did not run the job: {e}")))?;
        let _ = client.delete_jar(&jar_id).await;
        Ok(())
    }
}

/// Whether a submission failed only because the retained checkpoint it
/// restores from no longer exists.
fn vanished_restore_point(error: &Error, deployment: &Deployment) -> bool {
    // On this machine drey finds the newest checkpoint on disk itself
    // (`usable_restore_point`); on a cluster it shares it cannot.
    let from_checkpoint = deployment
        .restore_from
        .as_deref()
        .is_some_and(|p| p.contains("/chk-"));
    deployment.existing_cluster.is_some()
        && from_checkpoint
        && error
            .to_string()
            .contains("Cannot find checkpoint or savepoint")
}

/// `spec.flinkConfiguration` as strings: a session job's own configuration.
pub(super) fn job_configuration(effective: &Value) -> std::collections::BTreeMap<String, String> {
    effective
        .get("flinkConfiguration")
        .and_then(Value::as_object)
        .map(|conf| {
            conf.iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `local://` and `file://` jars must live under one of the allowed dirs.
pub(super) fn check_jar_path(path: &Path, allowed: &[PathBuf]) -> Result<(), Error> {
    let canonical = path.canonicalize().map_err(|_| {
        Error::invalid(
            "spec.job.jarURI",
            format!("{} does not exist", path.display()),
        )
    })?;
    let ok = allowed.iter().any(|dir| {
        dir.canonicalize()
            .map(|d| canonical.starts_with(d))
            .unwrap_or(false)
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "spec.job.jarURI",
            format!(
                "{} is outside the allowed jar directories ({}); see --jar-dir",
                path.display(),
                allowed
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_paths_outside_the_allowed_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("job.jar");
        std::fs::write(&jar, b"x").unwrap();
        check_jar_path(&jar, &[dir.path().to_owned()]).unwrap();
        let other = tempfile::tempdir().unwrap();
        let err = check_jar_path(&jar, &[other.path().to_owned()]).unwrap_err();
        assert!(err.to_string().contains("outside the allowed"));
        // `..` cannot escape an allowed dir.
        let sneaky = dir
            .path()
            .join("..")
            .join(other.path().file_name().unwrap());
        assert!(check_jar_path(&sneaky, &[dir.path().to_owned()]).is_err());
    }
}
