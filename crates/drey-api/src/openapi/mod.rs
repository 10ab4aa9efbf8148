//! drey's OpenAPI documents, built with utoipa from tables of the routes
//! drey serves, and a Swagger UI at `/swagger` whose files are compiled into
//! the binary (no internet needed):
//!
//! - Ververica Platform's Application Manager API at `/api/swagger.json` and
//!   its platform API at `/swagger.json`, as VVP serves them ([`vvp`]);
//! - the CMF dialect at `/cmf/openapi.json` ([`cmf`]), in the shapes and
//!   with the statuses of CMF's own document.
//!
//! A route added to a dialect's router gets one line in its table;
//! `tests/vvp_openapi.rs` and `tests/cmf_openapi.rs` call every documented
//! operation to keep the tables and the routers honest.

mod cmf;
mod vvp;

use crate::AppState;
use axum::Router;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, Required, ResponseBuilder,
};
use utoipa::PartialSchema;
use utoipa_swagger_ui::{SwaggerUi, Url};

/// One operation drey serves.
struct Route {
    method: HttpMethod,
    path: String,
    summary: &'static str,
    tag: &'static str,
    /// The request body's schema, if it takes one.
    body: Option<&'static str>,
    /// The success status and its body's schema.
    ok: (u16, Option<&'static str>),
    /// Query parameters: name and description.
    query: &'static [(&'static str, &'static str)],
    /// The other statuses it answers: code, description, body schema.
    others: Vec<(u16, &'static str, Option<&'static str>)>,
}

impl Route {
    /// An operation without query parameters.
    fn new(
        method: HttpMethod,
        path: &str,
        summary: &'static str,
        tag: &'static str,
        body: Option<&'static str>,
        ok: (u16, Option<&'static str>),
        others: Vec<(u16, &'static str, Option<&'static str>)>,
    ) -> Route {
        Route {
            method,
            path: path.to_owned(),
            summary,
            tag,
            body,
            ok,
            query: &[],
            others,
        }
    }
}

/// The URL a CMF client reads drey's CMF document from.
pub const CMF_DOCUMENT: &str = "/cmf/openapi.json";

/// The documents drey serves: (URL, document).
pub fn documents() -> [(&'static str, OpenApi); 3] {
    let vvp_description = "drey serves Ververica Platform 2.x's REST API over its own core. \
         JSON or YAML both ways (Content-Type / Accept). With --auth token, send \
         Authorization: Bearer <token>.";
    [
        (
            "/api/swagger.json",
            build(
                "drey: Ververica Platform Application Manager API",
                vvp_description,
                vvp::appmanager_routes(),
                vvp::components(components()),
            ),
        ),
        (
            "/swagger.json",
            build(
                "drey: Ververica Platform platform API",
                vvp_description,
                vvp::platform_routes(),
                vvp::components(components()),
            ),
        ),
        (
            CMF_DOCUMENT,
            build(
                "drey: Confluent Manager for Apache Flink API",
                "drey serves CMF 2.3's REST API (and CMF 2.4's artifacts) over its own core, \
                 in the shapes of CMF's own document. JSON or YAML both ways. With \
                 --auth token, send Authorization: Bearer <token>.",
                cmf::routes(),
                cmf::components(components()),
            ),
        ),
    ]
}

fn build(title: &str, description: &str, routes: Vec<Route>, components: Components) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for r in routes {
        let op = operation(&r);
        paths = paths.path(r.path.clone(), PathItem::new(r.method, op));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .security(Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]))
        .build()
}

/// What every document's components start from: the bearer token scheme.
fn components() -> ComponentsBuilder {
    ComponentsBuilder::new().security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    )
}

fn operation(r: &Route) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new()
        .summary(Some(r.summary))
        .tag(r.tag)
        .operation_id(Some(format!(
            "{}{}",
            method_name(&r.method).to_ascii_lowercase(),
            r.path.replace(['/', '{', '}', ':', '-'], "_")
        )));
    for name in r
        .path
        .split('/')
        .flat_map(|seg| seg.split(':'))
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(String::schema())),
        );
    }
    for (name, description) in r.query {
        op = op.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(*description))
                .schema(Some(String::schema())),
        );
    }
    if let Some(body) = r.body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", json_of(body))
                .content("application/yaml", json_of(body))
                .required(Some(Required::True))
                .build(),
        ));
    }
    let mut ok = ResponseBuilder::new().description("Success");
    if let Some(schema) = r.ok.1 {
        ok = ok
            .content("application/json", json_of(schema))
            .content("application/yaml", json_of(schema));
    }
    op = op.response(r.ok.0.to_string(), ok.build());
    for (code, what, schema) in &r.others {
        let mut response = ResponseBuilder::new().description(*what);
        if let Some(schema) = schema {
            response = response.content("application/json", json_of(schema));
        }
        op = op.response(code.to_string(), response.build());
    }
    op.build()
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

fn json_of(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

/// `/swagger` (the UI, its files from the binary) and the documents.
pub fn router() -> Router<AppState> {
    let mut ui = SwaggerUi::new("/swagger");
    for ((url, doc), name) in
        documents()
            .into_iter()
            .zip(["Application Manager API", "Platform API", "CMF API"])
    {
        ui = ui.url(Url::new(name, url), doc);
    }
    Router::new().merge(ui)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_a_route_names_is_defined() {
        for (_, doc) in documents() {
            let json = serde_json::to_value(&doc).unwrap_or_default();
            let defined = json["components"]["schemas"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let text = json["paths"].to_string();
            for part in text.split("#/components/schemas/").skip(1) {
                let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
                assert!(defined.contains_key(&name), "{name} is not defined");
            }
        }
    }
}
