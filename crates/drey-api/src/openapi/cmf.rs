//! drey's OpenAPI document of its CMF dialect: every operation of CMF 2.3.1's
//! document that drey serves, with CMF's paths, schema names and statuses
//! (where drey answers otherwise, as the CMF documentation it follows says,
//! the table says so), CMF 2.4's artifacts, and drey's additions. The shapes
//! name each schema's top-level properties; what lies below them is CMF's
//! own (`object`). `tests/cmf_openapi.rs` checks the document against CMF's
//! and walks it against a running server.

use super::Route;
use utoipa::openapi::path::HttpMethod::{
    self, Delete as DELETE, Get as GET, Post as POST, Put as PUT,
};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Components, ComponentsBuilder, Ref, RefOr};

/// One operation: method, path, summary, tag, request body schema, the
/// success status and its schema, the other statuses it answers besides
/// 401 and 403 (which every operation may answer with `--auth token`) and,
/// for a GET, 304 (its `ETag` sent back in `If-None-Match`).
fn op(
    method: HttpMethod,
    path: &str,
    summary: &'static str,
    tag: &'static str,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
    others: &[u16],
) -> Route {
    let mut statuses: Vec<u16> = others.to_vec();
    statuses.extend([401, 403]);
    if method == GET {
        statuses.push(304);
    }
    statuses.sort_unstable();
    statuses.dedup();
    let others = statuses
        .into_iter()
        .map(|code| {
            (
                code,
                description(code),
                (code >= 400).then_some("RestError"),
            )
        })
        .collect();
    Route {
        query: query_of(path, ok.1),
        ..Route::new(method, path, summary, tag, body, ok, others)
    }
}

fn description(code: u16) -> &'static str {
    match code {
        200 | 201 => "Success",
        202 => "Accepted: the work goes on in the background",
        204 => "Done, nothing to answer",
        304 => "Not modified: the ETag sent in If-None-Match still matches",
        400 => "Invalid request",
        401 => "No valid bearer token",
        403 => "The caller's role does not allow it",
        404 => "Not found",
        409 => "Exists already, or in use",
        410 => "Gone: the results no longer exist",
        413 => "Larger than the server's limit",
        422 => "Not processable: a field names what is wrong",
        _ => "The server failed",
    }
}

const PAGING: &[(&str, &str)] = &[
    ("page", "Zero-based page index (0..N)"),
    ("size", "The size of the page to be returned"),
    (
        "sort",
        "Sorting criteria in the format: property,(asc|desc); repeatable",
    ),
];

fn query_of(path: &str, ok: Option<&str>) -> &'static [(&'static str, &'static str)] {
    if path.ends_with("/results") {
        &[(
            "page-token",
            "The token of the page to read, from the previous page's metadata",
        )]
    } else if ok.is_some_and(|s| s.ends_with("Page")) {
        PAGING
    } else {
        &[]
    }
}

/// Every CMF operation drey serves.
pub(super) fn routes() -> Vec<Route> {
    let artifacts = "/cmf/api/v1/environments/{envName}/artifacts";
    let one = "/cmf/api/v1/environments/{envName}/artifacts/{artifactName}";
    vec![
    op(GET, "/cmf/api/v1/environments", "Retrieve a paginated list of all environments", "Environments", None, (200, Some("EnvironmentsPage")), &[500]),
    op(POST, "/cmf/api/v1/environments", "Create or update an Environment", "Environments", Some("PostEnvironment"), (201, Some("Environment")), &[400, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}", "Deletes the Environment of the given name", "Environments", None, (200, None), &[404, 409, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}", "Get/Describe an environment with the given name", "Environments", None, (200, Some("Environment")), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/applications", "Retrieve a paginated list of all applications in the given Environment", "FlinkApplications", None, (200, Some("ApplicationsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/applications", "Creates a new Flink Application or updates an existing one in the given Environment", "FlinkApplications", Some("FlinkApplication"), (201, Some("FlinkApplication")), &[400, 422, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}/applications/{appName}", "Deletes an Application of the given name in the given Environment", "FlinkApplications", None, (200, None), &[500]),
    op(GET, "/cmf/api/v1/environments/{envName}/applications/{appName}", "Retrieve an Application of the given name in the given Environment", "FlinkApplications", None, (200, Some("FlinkApplication")), &[404, 500]),
    op(GET, "/cmf/api/v1alpha1/environments/{envName}/applications/{appName}/events", "Get a paginated list of events of the given Application", "FlinkApplications", None, (200, Some("EventsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/applications/{appName}/start", "Starts an earlier submitted Flink Application", "FlinkApplications", None, (200, Some("FlinkApplication")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/applications/{appName}/suspend", "Suspends an earlier started Flink Application", "FlinkApplications", None, (200, Some("FlinkApplication")), &[500]),
    op(GET, "/cmf/api/v1/environments/{envName}/applications/{appName}/instances", "Get a paginated list of instances of the given Application", "FlinkApplications", None, (200, Some("ApplicationInstancesPage")), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/applications/{appName}/instances/{instName}", "Retrieve an Instance of an Application", "FlinkApplications", None, (200, Some("FlinkApplicationInstance")), &[404, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}/secret-mappings/{name}", "Deletes the Environment Secret Mapping for the given Environment and Secret", "Environments", None, (204, None), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/secret-mappings/{name}", "Retrieve the Environment Secret Mapping for the given name in the given environment", "Environments", None, (200, Some("EnvironmentSecretMapping")), &[404, 500]),
    op(PUT, "/cmf/api/v1/environments/{envName}/secret-mappings/{name}", "Updates the Environment Secret Mapping for the given Environment", "Environments", Some("EnvironmentSecretMapping"), (200, Some("EnvironmentSecretMapping")), &[400, 404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/secret-mappings", "Retrieve a paginated list of all Environment Secret Mappings", "Environments", None, (200, Some("EnvironmentSecretMappingsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/secret-mappings", "Creates the Environment Secret Mapping for the given Environment", "Environments", Some("EnvironmentSecretMapping"), (200, Some("EnvironmentSecretMapping")), &[400, 404, 409, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/statements", "Retrieve a paginated list of Statements in the given Environment", "SQL", None, (200, Some("StatementsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/statements", "Creates a new Flink SQL Statement in the given Environment", "SQL", Some("Statement"), (200, Some("Statement")), &[400, 404, 409, 422, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}/statements/{stmtName}", "Deletes the Statement of the given name in the given Environment", "SQL", None, (202, None), &[204, 404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/statements/{stmtName}", "Retrieve the Statement of the given name in the given Environment", "SQL", None, (200, Some("Statement")), &[404, 500]),
    op(PUT, "/cmf/api/v1/environments/{envName}/statements/{stmtName}", "Updates a Statement of the given name in the given Environment", "SQL", Some("Statement"), (200, None), &[400, 404, 422, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/statements/{stmtName}/results", "Retrieve the result of the interactive Statement with the given name in the given Environment", "SQL", None, (200, Some("StatementResult")), &[400, 404, 410, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/statements/{stmtName}/exceptions", "Retrieves the last 10 exceptions of the Statement with the given name in the given Environment", "SQL", None, (200, Some("StatementExceptionList")), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/compute-pools", "Retrieve a paginated list of Compute Pools in the given Environment", "SQL", None, (200, Some("ComputePoolsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/compute-pools", "Creates a new Flink Compute Pool in the given Environment", "SQL", Some("ComputePool"), (200, Some("ComputePool")), &[400, 409, 422, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}/compute-pools/{computePoolName}", "Deletes the ComputePool of the given name in the given Environment", "SQL", None, (204, None), &[404, 409, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/compute-pools/{computePoolName}", "Retrieve the Compute Pool of the given name in the given Environment", "SQL", None, (200, Some("ComputePool")), &[404, 500]),
    op(PUT, "/cmf/api/v1/environments/{envName}/compute-pools/{computePoolName}", "Updates a Compute Pool of the given name in the given Environment", "SQL", Some("ComputePool"), (200, Some("ComputePool")), &[400, 404, 409, 422, 500]),
    op(GET, "/cmf/api/v1/secrets", "Retrieve a paginated list of all secrets. Note that the actual secret data is masked for security reasons", "Secrets", None, (200, Some("SecretsPage")), &[500]),
    op(POST, "/cmf/api/v1/secrets", "Create a Secret", "Secrets", Some("Secret"), (200, Some("Secret")), &[400, 409, 500]),
    op(DELETE, "/cmf/api/v1/secrets/{secretName}", "Delete the secret with the given name", "Secrets", None, (204, None), &[404, 500]),
    op(GET, "/cmf/api/v1/secrets/{secretName}", "Retrieve the Secret of the given name. Note that the secret data is not returned for security reasons", "Secrets", None, (200, Some("Secret")), &[404, 500]),
    op(PUT, "/cmf/api/v1/secrets/{secretName}", "Update the secret", "Secrets", Some("Secret"), (200, Some("Secret")), &[400, 404, 422, 500]),
    op(GET, "/cmf/api/v1/catalogs/kafka", "Retrieve a paginated list of Kafka Catalogs", "SQL", None, (200, Some("KafkaCatalogsPage")), &[500]),
    op(POST, "/cmf/api/v1/catalogs/kafka", "Creates a new Kafka Catalog that can be referenced by Flink Statements", "SQL", Some("KafkaCatalog"), (200, Some("KafkaCatalog")), &[400, 409, 422, 500]),
    op(DELETE, "/cmf/api/v1/catalogs/kafka/{catName}", "Deletes the Kafka Catalog of the given name", "SQL", None, (204, None), &[404, 409, 500]),
    op(GET, "/cmf/api/v1/catalogs/kafka/{catName}", "Retrieve the Kafka Catalog of the given name", "SQL", None, (200, Some("KafkaCatalog")), &[404, 500]),
    op(PUT, "/cmf/api/v1/catalogs/kafka/{catName}", "Updates a KafkaCatalog of the given name", "SQL", Some("KafkaCatalog"), (200, None), &[400, 404, 422, 500]),
    op(GET, "/cmf/api/v1/catalogs/kafka/{catName}/databases", "Retrieve a paginated list of Kafka Databases", "SQL", None, (200, Some("KafkaDatabasesPage")), &[500]),
    op(POST, "/cmf/api/v1/catalogs/kafka/{catName}/databases", "Creates a new Kafka Database", "SQL", Some("KafkaDatabase"), (200, Some("KafkaDatabase")), &[400, 409, 422, 500]),
    op(DELETE, "/cmf/api/v1/catalogs/kafka/{catName}/databases/{dbName}", "Deletes the Kafka Database of the given name in the given KafkaCatalog", "SQL", None, (204, None), &[404, 500]),
    op(GET, "/cmf/api/v1/catalogs/kafka/{catName}/databases/{dbName}", "Retrieve the Kafka Database of the given name in the given KafkaCatalog", "SQL", None, (200, Some("KafkaDatabase")), &[404, 500]),
    op(PUT, "/cmf/api/v1/catalogs/kafka/{catName}/databases/{dbName}", "Updates a KafkaDatabase of the given name in the given KafkaCatalog", "SQL", Some("KafkaDatabase"), (200, None), &[400, 404, 422, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/applications/{appName}/savepoints", "Retrieve a paginated list of all Savepoints for the given Application in the given Environment", "Savepoints", None, (200, Some("SavepointsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/applications/{appName}/savepoints", "Creates a new Savepoint for the given Application in the given Environment", "Savepoints", Some("Savepoint"), (201, Some("Savepoint")), &[400, 404, 422, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}/applications/{appName}/savepoints/{savepointName}", "Deletes the Savepoint of the given name for the given Application in the given Environment", "Savepoints", None, (204, None), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/applications/{appName}/savepoints/{savepointName}", "Retrieve the Savepoint of the given name for the given Application in the given Environment", "Savepoints", None, (200, Some("Savepoint")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/applications/{appName}/savepoints/{savepointName}/detach", "Detaches the Savepoint of the given name for the given Application in the given Environment", "Savepoints", None, (200, Some("Savepoint")), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/statements/{stmtName}/savepoints", "Retrieve a paginated list of all Savepoints for the given Statement in the given Environment", "Savepoints", None, (200, Some("SavepointsPage")), &[404, 500]),
    op(POST, "/cmf/api/v1/environments/{envName}/statements/{stmtName}/savepoints", "Creates a new Savepoint for the given Statement in the given Environment", "Savepoints", Some("Savepoint"), (201, Some("Savepoint")), &[400, 404, 422, 500]),
    op(DELETE, "/cmf/api/v1/environments/{envName}/statements/{stmtName}/savepoints/{savepointName}", "Deletes the Savepoint of the given name for the given Statement in the given Environment", "Savepoints", None, (204, None), &[404, 500]),
    op(GET, "/cmf/api/v1/environments/{envName}/statements/{stmtName}/savepoints/{savepointName}", "Retrieve the Savepoint of the given name for the given Statement in the given Environment", "Savepoints", None, (200, Some("Savepoint")), &[404, 500]),
    op(GET, "/cmf/api/v1/detached-savepoints", "Retrieve a paginated list of all Detached Savepoints", "DetachedSavepoints", None, (200, Some("SavepointsPage")), &[500]),
    op(POST, "/cmf/api/v1/detached-savepoints", "Creates a new detached savepoint", "DetachedSavepoints", Some("Savepoint"), (201, Some("Savepoint")), &[400, 422, 500]),
    op(DELETE, "/cmf/api/v1/detached-savepoints/{detachedSavepointName}", "Deletes the Detached Savepoint of the given name", "DetachedSavepoints", None, (204, None), &[404, 500]),
    op(GET, "/cmf/api/v1/detached-savepoints/{detachedSavepointName}", "Retrieve the Detached Savepoint of the given name", "DetachedSavepoints", None, (200, Some("Savepoint")), &[404, 500]),
    op(GET, "/cmf/api/v1/kubernetes-clusters", "Retrieve a list of all registered Kubernetes clusters", "KubernetesClusters", None, (200, Some("KubernetesClustersPage")), &[500]),
    op(GET, "/cmf/api/v1/kubernetes-clusters/{kubernetesClusterName}", "Retrieve a Kubernetes cluster by name", "KubernetesClusters", None, (200, Some("KubernetesCluster")), &[404, 500]),
    op(PUT, "/cmf/api/v1/kubernetes-clusters/{kubernetesClusterName}", "Update a Kubernetes cluster (lifecycle state, labels, annotations)", "KubernetesClusters", Some("KubernetesCluster"), (200, Some("KubernetesCluster")), &[400, 404, 500]),
    op(GET, "/cmf/api/v1/c3/license", "Retrieve license information for C3 integration", "C3", None, (200, Some("C3LicenseInformation")), &[500]),
    op(GET, "/cmf/api/v1/system-information", "Retrieve system information about the CMF deployment", "CMFInformation", None, (200, Some("SystemInformation")), &[500]),
    op(GET, "/cmf/api/v1/resource-information", "Retrieve resource information about the CMF deployment", "CMFInformation", None, (200, Some("ResourceInformation")), &[500]),
        // CMF 2.4's artifacts (multipart upload: an `artifact` part and a `file` part).
        op(POST, artifacts, "Upload an artifact (multipart: artifact, file)", "Artifacts", None, (200, Some("Artifact")), &[400, 404, 409, 413, 500]),
        op(GET, artifacts, "List the latest version of each artifact", "Artifacts", None, (200, Some("ArtifactsPage")), &[404, 500]),
        op(GET, one, "Get an artifact (?version=<n>|latest)", "Artifacts", None, (200, Some("Artifact")), &[400, 404, 500]),
        op(PUT, one, "Upload a new version, or change labels and annotations", "Artifacts", None, (200, Some("Artifact")), &[400, 404, 413, 500]),
        op(DELETE, one, "Delete a version (?version=<n>|all)", "Artifacts", None, (204, None), &[400, 404, 409, 500]),
        op(GET, &format!("{one}/versions"), "List an artifact's versions, newest first", "Artifacts", None, (200, Some("ArtifactsPage")), &[404, 500]),
        op(GET, &format!("{one}/content"), "Download a version's file", "Artifacts", None, (200, None), &[400, 404, 500]),
        // drey's additions: what drey would hand Kubernetes for the object.
        op(GET, "/cmf/api/v1/environments/{envName}/applications/{appName}/manifest", "The FlinkDeployment manifest of an application (drey)", "FlinkApplications", None, (200, None), &[404, 500]),
        op(GET, "/cmf/api/v1/environments/{envName}/compute-pools/{computePoolName}/manifest", "The FlinkDeployment manifest of a compute pool (drey)", "SQL", None, (200, None), &[404, 500]),
    ]
}

/// A shape: name, description, top-level properties (name and type) and the
/// required ones. A type is `string`, `integer`, `number`, `boolean`,
/// `object`, or `[X]`: an array of shape (or type) X.
type Shape = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// The shapes the operations name, as CMF's document defines them.
const SHAPES: &[Shape] = &[
    (
        "EnvironmentsPage",
        "EnvironmentsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[Environment]")],
        &[],
    ),
    (
        "Environment",
        "Environment",
        &[("name", "string"), ("created_time", "string"), ("updated_time", "string"), ("flinkApplicationDefaults", "object"), ("kubernetesNamespace", "string"), ("kubernetesClusterName", "string"), ("computePoolDefaults", "object"), ("statementDefaults", "object"), ("metadata", "object"), ("secrets", "object"), ("status", "object")],
        &["kubernetesNamespace", "name"],
    ),
    (
        "PostEnvironment",
        "Environment",
        &[("name", "string"), ("flinkApplicationDefaults", "object"), ("kubernetesNamespace", "string"), ("kubernetesClusterName", "string"), ("computePoolDefaults", "object"), ("statementDefaults", "object"), ("metadata", "object")],
        &[],
    ),
    (
        "ApplicationsPage",
        "ApplicationsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[FlinkApplication]")],
        &[],
    ),
    (
        "FlinkApplication",
        "Represents a Flink Application submitted by the user",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "EventsPage",
        "EventsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[FlinkApplicationEvent]")],
        &[],
    ),
    (
        "ApplicationInstancesPage",
        "ApplicationInstancesPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[FlinkApplicationInstance]")],
        &[],
    ),
    (
        "FlinkApplicationInstance",
        "An instance of a Flink Application",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("status", "object")],
        &["apiVersion", "kind"],
    ),
    (
        "EnvironmentSecretMappingsPage",
        "EnvironmentSecretMappingsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[EnvironmentSecretMapping]")],
        &[],
    ),
    (
        "EnvironmentSecretMapping",
        "The secrets mapping for the environment. The name shows the name of the Connection Secret ID to be mapped.",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object")],
        &["apiVersion", "kind"],
    ),
    (
        "StatementsPage",
        "StatementsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[Statement]")],
        &[],
    ),
    (
        "Statement",
        "Represents a SQL Statement submitted by the user",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object"), ("result", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "StatementResult",
        "Represents the result of a SQL Statement",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("results", "object")],
        &["apiVersion", "kind", "metadata", "results"],
    ),
    (
        "StatementExceptionList",
        "Represents a list of exceptions that occurred while executing a SQL Statement",
        &[("apiVersion", "string"), ("kind", "string"), ("data", "[StatementException]")],
        &["apiVersion", "kind", "data"],
    ),
    (
        "ComputePoolsPage",
        "ComputePoolsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[ComputePool]")],
        &[],
    ),
    (
        "ComputePool",
        "Represents the configuration of a Flink cluster",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "SecretsPage",
        "SecretsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[Secret]")],
        &[],
    ),
    (
        "Secret",
        "Represents a Secret that can be used to specify sensitive information in the Flink SQL statements.",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "KafkaCatalogsPage",
        "KafkaCatalogsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[KafkaCatalog]")],
        &[],
    ),
    (
        "KafkaCatalog",
        "Represents a the configuration of a Kafka Catalog",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "KafkaDatabasesPage",
        "KafkaDatabasesPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[KafkaDatabase]")],
        &[],
    ),
    (
        "KafkaDatabase",
        "Represents a the configuration of a Kafka Database",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "SavepointsPage",
        "SavepointsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[Savepoint]")],
        &[],
    ),
    (
        "Savepoint",
        "Represents a Savepoint for a Flink Application or Statement",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "KubernetesClustersPage",
        "KubernetesClustersPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[KubernetesCluster]")],
        &[],
    ),
    (
        "KubernetesCluster",
        "Represents a registered Kubernetes cluster managed by CMF.",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "spec"],
    ),
    (
        "C3LicenseInformation",
        "License information for C3 integration",
        &[("kind", "string"), ("status", "object")],
        &[],
    ),
    (
        "SystemInformation",
        "Represents system information about the CMF application",
        &[("status", "object")],
        &[],
    ),
    (
        "ResourceInformation",
        "Represents resource information and usage statistics for the CMF application",
        &[("status", "object")],
        &[],
    ),
    (
        "RestError",
        "The schema for all error responses.",
        &[("errors", "[error]")],
        &[],
    ),
    (
        "FlinkApplicationEvent",
        "Events from the deployment of Flink clusters",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata", "status"],
    ),
    (
        "StatementException",
        "Represents an exception that occurred while executing a SQL Statement",
        &[("apiVersion", "string"), ("kind", "string"), ("name", "string"), ("message", "string"), ("timestamp", "string")],
        &["apiVersion", "kind", "message", "name", "timestamp"],
    ),
    (
        "error",
        "An error",
        &[("message", "string")],
        &[],
    ),
    (
        "Artifact",
        "A versioned jar of an environment (CMF 2.4)",
        &[("apiVersion", "string"), ("kind", "string"), ("metadata", "object"), ("spec", "object"), ("status", "object")],
        &["apiVersion", "kind", "metadata"],
    ),
    (
        "ArtifactsPage",
        "ArtifactsPage",
        &[("pageable", "object"), ("metadata", "object"), ("items", "[Artifact]")],
        &[],
    ),
];

/// The shapes as schemas, added to `c`.
pub(super) fn components(mut c: ComponentsBuilder) -> Components {
    for (name, description, properties, required) in SHAPES {
        let mut object = ObjectBuilder::new().description(Some(*description));
        for (property, kind) in *properties {
            object = object.property(*property, schema_of(kind));
        }
        for property in *required {
            object = object.required(*property);
        }
        c = c.schema(*name, object);
    }
    c.build()
}

fn schema_of(kind: &str) -> RefOr<Schema> {
    if let Some(item) = kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        return ArrayBuilder::new().items(schema_of(item)).into();
    }
    let simple = match kind {
        "string" => Type::String,
        "integer" => Type::Integer,
        "number" => Type::Number,
        "boolean" => Type::Boolean,
        "object" => Type::Object,
        shape => return Ref::from_schema_name(shape).into(),
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(simple))
        .into()
}
