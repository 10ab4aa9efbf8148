//! drey's Ververica Platform documents: the Application Manager API
//! (`/api/v1/...`) and the platform API, and the wire shapes they name.

use super::Route;
use utoipa::openapi::path::HttpMethod::{self, Delete, Get, Patch, Post, Put};
use utoipa::{PartialSchema, ToSchema};

/// VVP's error answers: a validation failure and `ApiException` otherwise.
pub(super) const ERRORS: &[(u16, &str, &str)] = &[
    (400, "Invalid request", "ApiValidationException"),
    (401, "No valid bearer token", "ApiException"),
    (403, "The token's role does not allow it", "ApiException"),
    (404, "Not found", "ApiException"),
    (
        409,
        "Exists already, in use, or a stale resourceVersion",
        "ApiException",
    ),
];

/// A VVP operation answering `ok` (or one of [`ERRORS`]).
fn route(
    method: HttpMethod,
    path: &str,
    summary: &'static str,
    tag: &'static str,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
) -> Route {
    let errors = ERRORS
        .iter()
        .map(|(code, what, schema)| (*code, *what, Some(*schema)))
        .collect();
    Route::new(method, path, summary, tag, body, ok, errors)
}

/// The Application Manager API (`/api/v1/...`).
pub(super) fn appmanager_routes() -> Vec<Route> {
    let d = "/api/v1/namespaces/{namespace}/deployments";
    vec![
        Route {
            query: &[(
                "labelSelector",
                "Kubernetes label selector, e.g. team=a,tier!=batch",
            )],
            ..route(
                Get,
                d,
                "List deployments",
                "deployments",
                None,
                (200, Some("DeploymentList")),
            )
        },
        route(
            Post,
            d,
            "Create a deployment",
            "deployments",
            Some("Deployment"),
            (201, Some("Deployment")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/deployments/{deploymentId}",
            "Get a deployment by name or id",
            "deployments",
            None,
            (200, Some("Deployment")),
        ),
        route(
            Put,
            "/api/v1/namespaces/{namespace}/deployments/{deploymentId}",
            "Create or replace a deployment",
            "deployments",
            Some("Deployment"),
            (200, Some("Deployment")),
        ),
        route(
            Patch,
            "/api/v1/namespaces/{namespace}/deployments/{deploymentId}",
            "Update a deployment (RFC 7386 merge patch)",
            "deployments",
            Some("Deployment"),
            (200, Some("Deployment")),
        ),
        route(
            Delete,
            "/api/v1/namespaces/{namespace}/deployments/{deploymentId}",
            "Delete a deployment that is not running",
            "deployments",
            None,
            (200, Some("Deployment")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/deployment-defaults",
            "Get the namespace's deployment defaults",
            "deployment-defaults",
            None,
            (200, Some("Resource")),
        ),
        route(
            Patch,
            "/api/v1/namespaces/{namespace}/deployment-defaults",
            "Update the namespace's deployment defaults",
            "deployment-defaults",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/deployment-targets",
            "List deployment targets",
            "deployment-targets",
            None,
            (200, Some("ResourceList")),
        ),
        route(
            Post,
            "/api/v1/namespaces/{namespace}/deployment-targets",
            "Create a deployment target",
            "deployment-targets",
            Some("Resource"),
            (201, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/deployment-targets/{name}",
            "Get a deployment target",
            "deployment-targets",
            None,
            (200, Some("Resource")),
        ),
        route(
            Put,
            "/api/v1/namespaces/{namespace}/deployment-targets/{name}",
            "Replace a deployment target",
            "deployment-targets",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Patch,
            "/api/v1/namespaces/{namespace}/deployment-targets/{name}",
            "Update a deployment target",
            "deployment-targets",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Delete,
            "/api/v1/namespaces/{namespace}/deployment-targets/{name}",
            "Delete a deployment target",
            "deployment-targets",
            None,
            (200, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/secret-values",
            "List secret values (values never shown)",
            "secret-values",
            None,
            (200, Some("ResourceList")),
        ),
        route(
            Post,
            "/api/v1/namespaces/{namespace}/secret-values",
            "Create a secret value",
            "secret-values",
            Some("Resource"),
            (201, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/secret-values/{name}",
            "Get a secret value (without its value)",
            "secret-values",
            None,
            (200, Some("Resource")),
        ),
        route(
            Put,
            "/api/v1/namespaces/{namespace}/secret-values/{name}",
            "Replace a secret value",
            "secret-values",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Patch,
            "/api/v1/namespaces/{namespace}/secret-values/{name}",
            "Update a secret value",
            "secret-values",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Delete,
            "/api/v1/namespaces/{namespace}/secret-values/{name}",
            "Delete a secret value",
            "secret-values",
            None,
            (200, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/sessionclusters",
            "List session clusters",
            "sessionclusters",
            None,
            (200, Some("ResourceList")),
        ),
        route(
            Post,
            "/api/v1/namespaces/{namespace}/sessionclusters",
            "Create a session cluster",
            "sessionclusters",
            Some("Resource"),
            (201, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/sessionclusters/{name}",
            "Get a session cluster",
            "sessionclusters",
            None,
            (200, Some("Resource")),
        ),
        route(
            Put,
            "/api/v1/namespaces/{namespace}/sessionclusters/{name}",
            "Replace a session cluster",
            "sessionclusters",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Patch,
            "/api/v1/namespaces/{namespace}/sessionclusters/{name}",
            "Update a session cluster",
            "sessionclusters",
            Some("Resource"),
            (200, Some("Resource")),
        ),
        route(
            Delete,
            "/api/v1/namespaces/{namespace}/sessionclusters/{name}",
            "Delete a session cluster no deployment uses",
            "sessionclusters",
            None,
            (200, Some("Resource")),
        ),
        Route {
            query: &[("deploymentId", "only this deployment's jobs")],
            ..route(
                Get,
                "/api/v1/namespaces/{namespace}/jobs",
                "List jobs",
                "jobs",
                None,
                (200, Some("ResourceList")),
            )
        },
        route(
            Get,
            "/api/v1/namespaces/{namespace}/jobs/{jobId}",
            "Get a job",
            "jobs",
            None,
            (200, Some("Resource")),
        ),
        Route {
            query: &[
                ("deploymentId", "only this deployment's events"),
                ("jobId", "only this job's events"),
            ],
            ..route(
                Get,
                "/api/v1/namespaces/{namespace}/events",
                "List events",
                "events",
                None,
                (200, Some("ResourceList")),
            )
        },
        Route {
            query: &[("deploymentId", "only this deployment's savepoints")],
            ..route(
                Get,
                "/api/v1/namespaces/{namespace}/savepoints",
                "List savepoints",
                "savepoints",
                None,
                (200, Some("ResourceList")),
            )
        },
        route(
            Post,
            "/api/v1/namespaces/{namespace}/savepoints",
            "Take a savepoint of a deployment (metadata.deploymentId)",
            "savepoints",
            Some("Resource"),
            (201, Some("Resource")),
        ),
        route(
            Get,
            "/api/v1/namespaces/{namespace}/savepoints/{savepointId}",
            "Get a savepoint",
            "savepoints",
            None,
            (200, Some("Resource")),
        ),
        Route {
            query: &[("force", "accepted (true or false); drey never refuses")],
            ..route(
                Delete,
                "/api/v1/namespaces/{namespace}/savepoints/{savepointId}",
                "Delete a savepoint's record (its files stay while a deployment restores from them)",
                "savepoints",
                None,
                (200, Some("Resource")),
            )
        },
        route(
            Get,
            "/api/v1/status",
            "drey's health",
            "status",
            None,
            (200, Some("Status")),
        ),
        route(
            Get,
            "/api/v1/status/system-info",
            "drey's version and build",
            "status",
            None,
            (200, Some("SystemInfo")),
        ),
    ]
}

/// The platform API (namespaces, API tokens, catalogs, SQL resources, artifacts).
pub(super) fn platform_routes() -> Vec<Route> {
    let sql = "/sql/v1beta1/namespaces/{ns}";
    let mut routes = vec![
        route(
            Get,
            "/namespaces/v1/namespaces",
            "List namespaces",
            "namespaces",
            None,
            (200, Some("NamespaceList")),
        ),
        route(
            Post,
            "/namespaces/v1/namespaces",
            "Create a namespace",
            "namespaces",
            Some("Namespace"),
            (201, Some("NamespaceResponse")),
        ),
        route(
            Get,
            "/namespaces/v1/namespaces/{ns}",
            "Get a namespace with its role bindings",
            "namespaces",
            None,
            (200, Some("NamespaceResponse")),
        ),
        route(
            Put,
            "/namespaces/v1/namespaces/{ns}",
            "Replace a namespace's role bindings",
            "namespaces",
            Some("Namespace"),
            (200, Some("NamespaceResponse")),
        ),
        route(
            Patch,
            "/namespaces/v1/namespaces/{ns}",
            "Update a namespace's role bindings",
            "namespaces",
            Some("Namespace"),
            (200, Some("NamespaceResponse")),
        ),
        route(
            Post,
            "/namespaces/v1/namespaces/{ns}:setPreviewSessionCluster",
            "Set (or clear) the session cluster sqlscripts:execute previews a SELECT on",
            "namespaces",
            Some("SetPreviewSessionClusterRequest"),
            (200, Some("Empty")),
        ),
        route(
            Delete,
            "/namespaces/v1/namespaces/{ns}",
            "Delete an empty namespace",
            "namespaces",
            None,
            (200, Some("NamespaceResponse")),
        ),
        route(
            Get,
            "/autopilot/v1alpha1/namespaces/{ns}",
            "List the namespace's Autopilot policies (one per deployment)",
            "autopilot",
            None,
            (200, Some("ListAutopilotPoliciesResponse")),
        ),
        route(
            Get,
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deploymentId}/autopilotpolicy",
            "Get a deployment's Autopilot policy (its job.autoscaler.* options)",
            "autopilot",
            None,
            (200, Some("AutopilotPolicyResponse")),
        ),
        route(
            Put,
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deploymentId}/autopilotpolicy",
            "Set a deployment's Autopilot policy",
            "autopilot",
            Some("AutopilotPolicy"),
            (200, Some("AutopilotPolicyResponse")),
        ),
        route(
            Get,
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deploymentId}/autopilotpolicy:recommendation",
            "The autoscaler's last decision, as a patch of the deployment",
            "autopilot",
            None,
            (200, Some("GetAutopilotPolicyRecommendationResponse")),
        ),
        route(
            Get,
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deploymentId}/autopilotpolicy:status",
            "The autoscaler's last action and the job's sources",
            "autopilot",
            None,
            (200, Some("GetAutopilotPolicyStatusResponse")),
        ),
        route(
            Get,
            "/apitokens/v1/namespaces/{ns}/apitokens",
            "List API tokens (secrets never shown)",
            "api-tokens",
            None,
            (200, Some("ApiTokenList")),
        ),
        route(
            Post,
            "/apitokens/v1/namespaces/{ns}/apitokens",
            "Create an API token (the secret is shown once)",
            "api-tokens",
            Some("ApiToken"),
            (201, Some("ApiTokenResponse")),
        ),
        route(
            Get,
            "/apitokens/v1/namespaces/{ns}/apitokens/{apiTokenName}",
            "Get an API token",
            "api-tokens",
            None,
            (200, Some("ApiTokenResponse")),
        ),
        route(
            Delete,
            "/apitokens/v1/namespaces/{ns}/apitokens/{apiTokenName}",
            "Revoke an API token",
            "api-tokens",
            None,
            (200, Some("Empty")),
        ),
        route(
            Get,
            "/catalog/v1beta2/namespaces/{ns}/catalogs",
            "List the catalogs the namespace's SQL sees",
            "catalogs",
            None,
            (200, Some("CatalogList")),
        ),
        route(
            Get,
            "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}",
            "Get a catalog",
            "catalogs",
            None,
            (200, Some("CatalogResponse")),
        ),
        route(
            Get,
            "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:listDatabases",
            "List a catalog's databases",
            "catalogs",
            None,
            (200, Some("Object")),
        ),
        Route {
            query: &[("database", "the database (default_database)")],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:listTables",
                "List a database's tables",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        Route {
            query: &[("database", "the database (default_database)")],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:listViews",
                "List a database's views",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        Route {
            query: &[("database", "the database (default_database)")],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:listFunctions",
                "List a database's user functions",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        Route {
            query: &[("database", "the database")],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:getDatabase",
                "Get a database",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        Route {
            query: &[
                ("database", "the database (default_database)"),
                ("table", "the table"),
            ],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:getTable",
                "Get a table and its schema",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        Route {
            query: &[
                ("database", "the database (default_database)"),
                ("view", "the view"),
            ],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:getView",
                "Get a view and its schema",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        Route {
            query: &[
                ("database", "the database (default_database)"),
                ("function", "the function"),
            ],
            ..route(
                Get,
                "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}:getFunction",
                "Get a user function",
                "catalogs",
                None,
                (200, Some("Object")),
            )
        },
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/sqlscripts:validate",
            "Validate a statement with the SQL engine",
            "sqlscripts",
            Some("Statement"),
            (200, Some("ValidateStatementResponse")),
        ),
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/sqlscripts:execute",
            "Execute a DDL statement or a command",
            "sqlscripts",
            Some("Statement"),
            (200, Some("ExecuteStatementResponse")),
        ),
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/sqlscripts:execute-multi",
            "Execute statements one after another (?stopOnError=false runs them all)",
            "sqlscripts",
            Some("Statements"),
            (200, Some("ExecuteStatementsResponse")),
        ),
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/sqlscripts:suggest",
            "Completions (keywords, tables) for the word before a position",
            "sqlscripts",
            Some("SuggestSqlScriptCompletionsDetails"),
            (200, Some("SuggestSqlScriptCompletionsResponse")),
        ),
        route(
            Get,
            "/sql/v1beta1/namespaces/{ns}/connectors/{name}:list-tables",
            "Tables of the namespace whose options name this connector",
            "connectors",
            None,
            (200, Some("ListTablesReferencingConnectorResponse")),
        ),
        route(
            Get,
            "/sql/v1beta1/namespaces/{ns}/formats/{name}:list-tables",
            "Tables of the namespace whose format (key, value) options name this format",
            "formats",
            None,
            (200, Some("ListTablesReferencingFormatResponse")),
        ),
        route(
            Get,
            "/sql/v1beta1/namespaces/{ns}/catalog-connectors/{name}:list-catalogs",
            "Catalogs of the namespace of this catalog connector",
            "catalog-connectors",
            None,
            (200, Some("ListCatalogsReferencingCatalogConnectorResponse")),
        ),
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/deployments/{deploymentId}:validate-config-change",
            "The options of a configuration change drey would refuse (it owns them)",
            "job-graphs",
            Some("ConfigSpec"),
            (200, Some("ValidateConfigChangeResponse")),
        ),
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/deployments/{deploymentId}:create-jobgraph",
            "Translate SQL into the deployment's compiled plan (state FAILED with the reason when Flink refuses it)",
            "job-graphs",
            Some("JobGraphSpec"),
            (200, Some("CreateJobGraphResponse")),
        ),
        route(
            Delete,
            "/sql/v1beta1/namespaces/{ns}/deployments/{deploymentId}:delete-jobgraphs",
            "Delete the deployment's job graphs",
            "job-graphs",
            None,
            (200, Some("DeleteJobGraphsResponse")),
        ),
        route(
            Post,
            "/sql/v1beta1/namespaces/{ns}/catalog-connectors:analyze-jars",
            "The catalog connectors uploaded jars bring, with their options",
            "catalog-connectors",
            Some("JarUris"),
            (200, Some("AnalyzeCatalogConnectorJarsResponse")),
        ),
        route(
            Get,
            "/artifacts/v1/namespaces/{ns}/artifacts",
            "List uploaded jars",
            "artifacts",
            None,
            (200, Some("ArtifactList")),
        ),
        route(
            Post,
            "/artifacts/v1/namespaces/{ns}/artifacts:upload",
            "Upload a jar (multipart, part 'file')",
            "artifacts",
            None,
            (201, Some("ArtifactResponse")),
        ),
        Route {
            query: &[("filename", "the jar's file name")],
            ..route(
                Delete,
                "/artifacts/v1/namespaces/{ns}/artifacts",
                "Delete an uploaded jar",
                "artifacts",
                None,
                (200, Some("Empty")),
            )
        },
    ];
    for (plural, schema, tag) in [
        ("connectors", "Connector", "connectors"),
        ("formats", "Format", "formats"),
        (
            "catalog-connectors",
            "CatalogConnector",
            "catalog-connectors",
        ),
        ("sqlscripts", "SqlScript", "sqlscripts"),
        ("udfartifacts", "UdfArtifact", "udfartifacts"),
    ] {
        let list = format!("{sql}/{plural}");
        let one = format!("{sql}/{plural}/{{name}}");
        routes.extend([
            route(
                Get,
                &list,
                "List (Flink's packaged ones included)",
                tag,
                None,
                (200, Some("Object")),
            ),
            route(
                Post,
                &list,
                "Create",
                tag,
                Some(schema),
                (201, Some("Object")),
            ),
            route(Get, &one, "Get", tag, None, (200, Some("Object"))),
            route(
                Put,
                &one,
                "Create or replace",
                tag,
                Some(schema),
                (200, Some("Object")),
            ),
            route(Delete, &one, "Delete", tag, None, (200, Some("Empty"))),
        ]);
    }
    routes
}

/// The shapes both VVP documents name, added to `c`.
pub(super) fn components(mut c: utoipa::openapi::ComponentsBuilder) -> utoipa::openapi::Components {
    macro_rules! schemas {
        ($($t:ty),* $(,)?) => {
            $( c = c.schema(<$t as ToSchema>::name(), <$t as PartialSchema>::schema()); )*
        };
    }
    use schemas::*;
    schemas!(
        Metadata,
        Deployment,
        DeploymentSpec,
        DeploymentTemplate,
        DeploymentTemplateSpec,
        Artifact,
        UpgradeStrategy,
        RestoreStrategy,
        DeploymentStatus,
        DeploymentRunning,
        DeploymentList,
        Resource,
        ResourceList,
        ApiException,
        ApiValidationException,
        ValidationError,
        Status,
        SystemInfo,
        Namespace,
        SetPreviewSessionClusterRequest,
        RoleBinding,
        NamespaceResponse,
        NamespaceList,
        ApiToken,
        ApiTokenResponse,
        ApiTokenList,
        AutopilotPolicy,
        AutoscalerConfig,
        AutopilotPolicyResponse,
        ListAutopilotPoliciesResponse,
        AutopilotPolicyRecommendation,
        GetAutopilotPolicyRecommendationResponse,
        SourceStatus,
        AutoscalerStatus,
        AutopilotPolicyStatus,
        GetAutopilotPolicyStatusResponse,
        Catalog,
        CatalogResponse,
        CatalogList,
        Statement,
        ValidateStatementResponse,
        ExecuteStatementResponse,
        Statements,
        ExecuteStatementsResponse,
        SuggestSqlScriptCompletionsDetails,
        SuggestSqlScriptCompletionsResponse,
        SqlScriptCompletion,
        ListTablesReferencingConnectorResponse,
        ListTablesReferencingFormatResponse,
        TableReference,
        ListCatalogsReferencingCatalogConnectorResponse,
        JarUris,
        JarUri,
        JobGraphSpec,
        ConfigSpec,
        ValidateConfigChangeResponse,
        CreateJobGraphResponse,
        JobGraph,
        ReferencedTable,
        DeleteJobGraphsResponse,
        DeleteJobGraphResponse,
        AnalyzeCatalogConnectorJarsResponse,
        CatalogReference,
        ErrorDetails,
        ResultTable,
        TableHeader,
        TableRow,
        TableCell,
        Connector,
        Format,
        CatalogConnector,
        Property,
        SqlScript,
        UdfArtifact,
        UdfClass,
        StoredJar,
        ArtifactResponse,
        ArtifactList,
        Empty,
        Object,
    );
    c.build()
}

/// The wire shapes, for the documents only (handlers build JSON directly).
#[allow(dead_code)]
mod schemas {
    use std::collections::BTreeMap;
    use utoipa::ToSchema;

    /// Every VVP object's metadata.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Metadata {
        /// UUID, made by drey.
        id: Option<String>,
        /// Unique in the namespace, immutable: 1-63 of [-0-9a-z].
        name: String,
        namespace: Option<String>,
        labels: Option<BTreeMap<String, String>>,
        annotations: Option<BTreeMap<String, String>>,
        created_at: Option<String>,
        modified_at: Option<String>,
        /// Sent back on PUT/PATCH; a stale one answers 409.
        resource_version: Option<i64>,
    }

    /// A Flink job as VVP defines it (a core application).
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Deployment {
        kind: Option<String>,
        api_version: Option<String>,
        metadata: Metadata,
        spec: DeploymentSpec,
        status: Option<DeploymentStatus>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct DeploymentSpec {
        /// RUNNING, SUSPENDED or CANCELLED.
        state: Option<String>,
        upgrade_strategy: Option<UpgradeStrategy>,
        restore_strategy: Option<RestoreStrategy>,
        deployment_target_name: Option<String>,
        /// Run the job in this SessionCluster instead of a cluster of its own.
        session_cluster_name: Option<String>,
        max_savepoint_creation_attempts: Option<u32>,
        max_job_creation_attempts: Option<u32>,
        template: DeploymentTemplate,
    }

    #[derive(ToSchema)]
    pub struct UpgradeStrategy {
        /// STATEFUL, STATELESS or NONE.
        kind: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct RestoreStrategy {
        /// LATEST_STATE, LATEST_SAVEPOINT or NONE.
        kind: String,
        allow_non_restored_state: Option<bool>,
    }

    #[derive(ToSchema)]
    pub struct DeploymentTemplate {
        spec: DeploymentTemplateSpec,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct DeploymentTemplateSpec {
        artifact: Artifact,
        parallelism: Option<u32>,
        number_of_task_managers: Option<u32>,
        /// jobmanager / taskmanager: cpu, memory.
        resources: Option<BTreeMap<String, BTreeMap<String, String>>>,
        flink_configuration: Option<BTreeMap<String, String>>,
        logging: Option<BTreeMap<String, String>>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Artifact {
        /// JAR.
        kind: String,
        jar_uri: String,
        entry_class: Option<String>,
        main_args: Option<String>,
        flink_version: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct DeploymentStatus {
        /// RUNNING, SUSPENDED, CANCELLED, TRANSITIONING, FAILED or FINISHED.
        state: String,
        running: Option<DeploymentRunning>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct DeploymentRunning {
        job_id: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct DeploymentList {
        /// DeploymentList.
        kind: String,
        api_version: String,
        items: Vec<Deployment>,
    }

    /// Any other Application Manager object (Job, Event, Savepoint,
    /// SessionCluster, DeploymentTarget, SecretValue, DeploymentDefaults).
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Resource {
        kind: String,
        api_version: String,
        metadata: Metadata,
        spec: Option<Object>,
        status: Option<Object>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ResourceList {
        /// <Kind>List.
        kind: String,
        api_version: String,
        items: Vec<Resource>,
    }

    /// A free-form JSON object.
    #[derive(ToSchema)]
    pub struct Object {}

    /// An empty object.
    #[derive(ToSchema)]
    pub struct Empty {}

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ApiException {
        /// ApiException.
        kind: String,
        message: String,
        reason: String,
        status_code: u16,
        context: Object,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ApiValidationException {
        /// ApiValidationException (or ApiException for a malformed request).
        kind: String,
        message: String,
        status_code: u16,
        errors: Vec<ValidationError>,
    }

    #[derive(ToSchema)]
    pub struct ValidationError {
        attribute: String,
        message: String,
    }

    #[derive(ToSchema)]
    pub struct Status {
        status: String,
    }

    #[derive(ToSchema)]
    pub struct SystemInfo {
        version: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Namespace {
        /// namespaces/<name>.
        name: String,
        create_time: Option<String>,
        lifecycle_phase: Option<String>,
        role_bindings: Option<Vec<RoleBinding>>,
        /// The session cluster a SELECT of `sqlscripts:execute` is previewed on.
        preview_session_cluster_name: Option<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct SetPreviewSessionClusterRequest {
        /// namespaces/<ns> (optional).
        name: Option<String>,
        /// <name> or namespaces/<ns>/sessionclusters/<name>; empty clears it.
        preview_session_cluster_name: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct RoleBinding {
        /// viewer, editor or owner.
        role: String,
        /// user:<id> or serviceaccount:<id>.
        members: Vec<String>,
    }

    #[derive(ToSchema)]
    pub struct NamespaceResponse {
        namespace: Namespace,
    }

    #[derive(ToSchema)]
    pub struct NamespaceList {
        namespaces: Vec<Namespace>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ApiToken {
        /// namespaces/<ns>/apitokens/<name>, or the name alone when creating.
        name: String,
        /// viewer, editor or owner.
        role: String,
        /// Only in the create response.
        secret: Option<String>,
        create_time: Option<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ApiTokenResponse {
        api_token: ApiToken,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ApiTokenList {
        api_tokens: Vec<ApiToken>,
    }

    /// ACTIVE rescales, MONITORING only recommends, DISABLED is off.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct AutopilotPolicy {
        /// namespaces/<ns>/deployments/<id>/autopilotpolicy.
        name: Option<String>,
        /// AUTOPILOT_MODE_ACTIVE, AUTOPILOT_MODE_MONITORING or AUTOPILOT_MODE_DISABLED.
        mode: Option<String>,
        autoscaler_config: Option<AutoscalerConfig>,
        modify_time: Option<String>,
    }

    /// The autoscaler's settings (job.autoscaler.* options).
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct AutoscalerConfig {
        /// Percent busy each vertex aims at (target.utilization × 100).
        target_utilization: Option<u32>,
        min_parallelism: Option<u32>,
        max_parallelism: Option<u32>,
        /// stabilization.interval in minutes.
        cooldown_minutes: Option<u32>,
        /// Other job.autoscaler.* options.
        extra_config: Option<BTreeMap<String, String>>,
    }

    #[derive(ToSchema)]
    pub struct AutopilotPolicyResponse {
        policy: AutopilotPolicy,
    }

    #[derive(ToSchema)]
    pub struct ListAutopilotPoliciesResponse {
        policies: Vec<AutopilotPolicy>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct AutopilotPolicyRecommendation {
        /// A JSON merge patch of the deployment.
        deployment_patch: Option<String>,
        description: Option<String>,
        last_update_time: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct GetAutopilotPolicyRecommendationResponse {
        recommendation: AutopilotPolicyRecommendation,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct SourceStatus {
        vertex_id: String,
        task_name: String,
        throughput: f64,
        target: f64,
        capacity: f64,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct AutoscalerStatus {
        last_action_time: Option<String>,
        message: String,
        metrics: String,
        source_status: Vec<SourceStatus>,
        update_time: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct AutopilotPolicyStatus {
        /// POLICY_STATUS_OK.
        status: String,
        autoscaler_status: AutoscalerStatus,
    }

    #[derive(ToSchema)]
    pub struct GetAutopilotPolicyStatusResponse {
        status: AutopilotPolicyStatus,
    }

    #[derive(ToSchema)]
    pub struct Catalog {
        name: String,
        properties: BTreeMap<String, String>,
    }

    #[derive(ToSchema)]
    pub struct CatalogResponse {
        catalog: Catalog,
    }

    #[derive(ToSchema)]
    pub struct CatalogList {
        catalogs: Vec<Catalog>,
    }

    #[derive(ToSchema)]
    pub struct Statement {
        statement: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ValidateStatementResponse {
        /// VALIDATION_RESULT_VALID_SELECT_QUERY, _VALID_INSERT_QUERY,
        /// _VALID_DDL_STATEMENT, _VALID_COMMAND_STATEMENT or _INVALID_QUERY.
        validation_result: String,
        error_details: Option<ErrorDetails>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ExecuteStatementResponse {
        /// RESULT_SUCCESS, RESULT_SUCCESS_WITH_ROWS or RESULT_ERROR_WITH_DETAILS.
        result: String,
        result_table: Option<ResultTable>,
        error_message: Option<ErrorDetails>,
    }

    /// SQL statements, run in order.
    #[derive(ToSchema)]
    pub struct Statements(Vec<String>);

    #[derive(ToSchema)]
    pub struct ExecuteStatementsResponse {
        /// One per statement; RESULT_SKIPPED after a failure when stopOnError.
        responses: Vec<ExecuteStatementResponse>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct SuggestSqlScriptCompletionsDetails {
        sql_script: String,
        /// Character offset of the cursor (default: the end).
        position: Option<i32>,
    }

    #[derive(ToSchema)]
    pub struct SuggestSqlScriptCompletionsResponse {
        completions: Vec<SqlScriptCompletion>,
    }

    #[derive(ToSchema)]
    pub struct ListTablesReferencingConnectorResponse {
        tables: Vec<TableReference>,
    }

    #[derive(ToSchema)]
    pub struct ListTablesReferencingFormatResponse {
        tables: Vec<TableReference>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct TableReference {
        catalog_name: String,
        database_name: String,
        table_name: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct JobGraphSpec {
        /// An `INSERT INTO` or a `STATEMENT SET`.
        sql_statement: String,
        flink_version: Option<String>,
        full_flink_configuration: Option<BTreeMap<String, String>>,
        user_flink_configuration: Option<BTreeMap<String, String>>,
        job_id: Option<String>,
        savepoint_location: Option<String>,
        allow_non_restored_state: Option<bool>,
    }

    /// A configuration change to check.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ConfigSpec {
        flink_version: Option<String>,
        new_config: Option<BTreeMap<String, String>>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ValidateConfigChangeResponse {
        /// The options drey owns: a write setting them answers 422.
        unsupported_config_options: Vec<String>,
    }

    #[derive(ToSchema)]
    pub struct CreateJobGraphResponse {
        jobgraph: JobGraph,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct JobGraph {
        /// `namespaces/{ns}/deployments/{d}/jobgraphs/{id}`.
        name: String,
        /// `JOBGRAPH_STATE_COMPLETED` or `JOBGRAPH_STATE_FAILED`.
        state: String,
        error_details: Option<ErrorDetails>,
        sql_statement: String,
        flink_version: String,
        full_flink_configuration: BTreeMap<String, String>,
        user_flink_configuration: BTreeMap<String, String>,
        /// The compiled plan (`file://`).
        jobgraph_path: Option<String>,
        jar_uris: Vec<String>,
        source_tables: Vec<ReferencedTable>,
        sink_tables: Vec<ReferencedTable>,
        create_time: String,
        update_time: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ReferencedTable {
        catalog_name: String,
        database_name: String,
        table_name: String,
        temporary: bool,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct DeleteJobGraphsResponse {
        deleted_job_graphs: Vec<DeleteJobGraphResponse>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct DeleteJobGraphResponse {
        not_deleted_files: Vec<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct JarUris {
        jar_uris: Vec<JarUri>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct JarUri {
        /// An artifact of the namespace (`file://` as uploaded, or `cmf://`).
        jar_uri: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct AnalyzeCatalogConnectorJarsResponse {
        catalog_connectors: Vec<CatalogConnector>,
    }

    #[derive(ToSchema)]
    pub struct ListCatalogsReferencingCatalogConnectorResponse {
        catalogs: Vec<CatalogReference>,
    }

    #[derive(ToSchema)]
    pub struct CatalogReference {
        /// `namespaces/{ns}/catalogs/{name}`.
        name: String,
    }

    #[derive(ToSchema)]
    pub struct SqlScriptCompletion {
        text: String,
        /// HINT_TYPE_KEYWORD or HINT_TYPE_TABLE.
        #[schema(rename = "type")]
        kind: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ErrorDetails {
        message: String,
        line_number: Option<i32>,
        column_number: Option<i32>,
    }

    #[derive(ToSchema)]
    pub struct ResultTable {
        headers: Vec<TableHeader>,
        rows: Vec<TableRow>,
    }

    #[derive(ToSchema)]
    pub struct TableHeader {
        name: String,
    }

    #[derive(ToSchema)]
    pub struct TableRow {
        cells: Vec<TableCell>,
    }

    #[derive(ToSchema)]
    pub struct TableCell {
        value: String,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Connector {
        name: String,
        r#type: String,
        packaged: Option<bool>,
        source: Option<bool>,
        sink: Option<bool>,
        lookup: Option<bool>,
        supported_formats: Option<Vec<String>>,
        properties: Option<Vec<Property>>,
        dependencies: Option<Vec<String>>,
    }

    #[derive(ToSchema)]
    pub struct Format {
        name: String,
        r#type: String,
        packaged: Option<bool>,
        source: Option<bool>,
        sink: Option<bool>,
        properties: Option<Vec<Property>>,
        dependencies: Option<Vec<String>>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct CatalogConnector {
        name: String,
        r#type: String,
        packaged: Option<bool>,
        read_only: Option<bool>,
        properties: Option<Vec<Property>>,
        dependencies: Option<Vec<String>>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct Property {
        key: String,
        default_value: Option<String>,
        description: Option<String>,
        required: Option<bool>,
        defines_format: Option<bool>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct SqlScript {
        /// namespaces/<ns>/sqlscripts/<name>, or the name alone.
        name: String,
        script: String,
        display_name: Option<String>,
        description: Option<String>,
        create_time: Option<String>,
        update_time: Option<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct UdfArtifact {
        /// namespaces/<ns>/udfartifacts/<name>, or the name alone.
        name: String,
        /// An uploaded artifact's file:// URI (or an http(s) URL).
        jar_url: String,
        /// Read from the jar.
        udf_classes: Option<Vec<UdfClass>>,
        create_time: Option<String>,
        update_time: Option<String>,
        jar_update_time: Option<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct UdfClass {
        class_name: String,
        /// UDF_TYPE_SCALAR, _TABLE, _AGGREGATE or _TABLE_AGGREGATE.
        class_type: String,
        function_names: Vec<String>,
    }

    /// An uploaded jar.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct StoredJar {
        filename: String,
        /// file:// URI for jarUri, jarUrl and USING JAR.
        uri: String,
        size: u64,
        modified_at: String,
    }

    #[derive(ToSchema)]
    pub struct ArtifactResponse {
        artifact: StoredJar,
    }

    #[derive(ToSchema)]
    pub struct ArtifactList {
        artifacts: Vec<StoredJar>,
    }
}
