//! An endpoint page against the spec's operation of the same method and
//! path: its parameters (path item's and operation's), its authorization
//! headers (the operation's security schemes), its request body, and its
//! successful responses, with the request and response examples validated.

use serde_json::{Map, Value};

use crate::docs_check::compare::describe::{describe, normal_label};
use crate::docs_check::compare::difference::{Kind, Place, Report};
use crate::docs_check::compare::fields::Ctx;
use crate::docs_check::compare::spec::{escape, Spec};
use crate::docs_check::page::model::Page;

/// A parameter of the spec: (name, location, required, schema node, schema
/// pointer, parameter pointer).
struct Param {
    name: String,
    location: String,
    required: bool,
    schema: Value,
    schema_at: String,
    at: String,
}

fn template(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches('/').to_owned()
}

/// Compares an endpoint page (`method`, `path`) with the spec.
pub fn compare_endpoint(spec: &Spec, page: &Page, method: &str, path: &str) -> Report {
    let mut ctx = Ctx {
        spec,
        report: Report::default(),
    };
    let lower = method.to_lowercase();
    let found = spec
        .document
        .get("paths")
        .and_then(Value::as_object)
        .and_then(|paths| {
            paths
                .iter()
                .find(|(p, item)| template(p) == template(path) && item.get(&lower).is_some())
                .map(|(p, item)| (p.clone(), item))
        });
    let Some((spec_path, item)) = found else {
        ctx.report.operation = format!("{method} {path}");
        ctx.differ(
            Place::Operation,
            "",
            Kind::OnlyOnPage,
            format!("{method} {path}"),
            "no such operation".into(),
            &[],
        );
        return ctx.report;
    };
    let op = &item[&lower];
    let op_at = format!("/paths/{}/{lower}", escape(&spec_path));
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    ctx.report.operation = format!("{id} ({method} {spec_path})");
    ctx.report.covers.push(id);
    let op_chain = vec![op_at.clone()];

    // Parameters: the path item's, then the operation's (which override).
    let mut params: Vec<Param> = Vec::new();
    let lists = [
        (
            item.get("parameters"),
            format!("/paths/{}/parameters", escape(&spec_path)),
        ),
        (op.get("parameters"), format!("{op_at}/parameters")),
    ];
    for (list, list_at) in lists {
        for (i, param) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (param, at) = match param.get("$ref").and_then(Value::as_str) {
                Some(reference) => match spec.target(reference) {
                    Some((p, at)) => (p, at),
                    None => continue,
                },
                None => (param, format!("{list_at}/{i}")),
            };
            let name = param
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let location = param
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            params.retain(|p| !(p.name == name && p.location == location));
            params.push(Param {
                required: param.get("required") == Some(&Value::Bool(true)),
                schema: param.get("schema").cloned().unwrap_or(Value::Null),
                schema_at: format!("{at}/schema"),
                name,
                location,
                at,
            });
        }
    }
    for (place, location, fields) in [
        (Place::Header, "header", &page.headers),
        (Place::Path, "path", &page.path_parameters),
        (Place::Query, "query", &page.query_parameters),
    ] {
        let header = location == "header";
        let same = |a: &str, b: &str| {
            if header {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        for field in fields {
            match params
                .iter()
                .find(|p| p.location == location && same(&p.name, &field.name))
            {
                Some(param) => {
                    let desc = describe(spec, &param.schema, &param.schema_at);
                    ctx.field(
                        place,
                        &field.name,
                        field,
                        &desc,
                        param.required,
                        std::slice::from_ref(&param.at),
                    );
                }
                None => ctx.differ(
                    place,
                    &field.name,
                    Kind::OnlyOnPage,
                    field.type_label.clone(),
                    "no such parameter".into(),
                    &[],
                ),
            }
        }
        for param in params.iter().filter(|p| p.location == location) {
            if !fields.iter().any(|f| same(&param.name, &f.name)) {
                let desc = describe(spec, &param.schema, &param.schema_at);
                let chain: Vec<String> = std::iter::once(param.at.clone())
                    .chain(desc.chain)
                    .collect();
                ctx.differ(
                    place,
                    &param.name,
                    Kind::OnlyInSpec,
                    "no such parameter".into(),
                    desc.label,
                    &chain,
                );
            }
        }
    }

    // Authorizations: the security schemes the operation requires.
    let security = op.get("security").or_else(|| spec.document.get("security"));
    let requirements: Vec<&Map<String, Value>> = security
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let auth_required = !requirements.is_empty() && requirements.iter().all(|r| !r.is_empty());
    let mut schemes: Vec<(String, String, String)> = Vec::new(); // (header name, in, pointer)
    for requirement in &requirements {
        for name in requirement.keys() {
            let at = format!("/components/securitySchemes/{}", escape(name));
            if let Some(scheme) = spec.get(&at) {
                let key = scheme
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_owned();
                let location = scheme
                    .get("in")
                    .and_then(Value::as_str)
                    .unwrap_or("header")
                    .to_owned();
                if !schemes.iter().any(|(k, _, _)| *k == key) {
                    schemes.push((key, location, at));
                }
            }
        }
    }
    for field in &page.authorizations {
        match schemes
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(&field.name))
        {
            Some((_, location, at)) => {
                let chain = vec![at.clone()];
                let page_location = field.location.clone().unwrap_or_else(|| "header".into());
                if normal_label(&field.type_label) != "string" || page_location != *location {
                    ctx.differ(
                        Place::Authorization,
                        &field.name,
                        Kind::Type,
                        format!("{} in {page_location}", field.type_label),
                        format!("string in {location}"),
                        &chain,
                    );
                }
                if field.required != auth_required {
                    let word = |r: bool| if r { "required" } else { "optional" }.to_owned();
                    ctx.differ(
                        Place::Authorization,
                        &field.name,
                        Kind::Required,
                        word(field.required),
                        word(auth_required),
                        &chain,
                    );
                }
            }
            None => ctx.differ(
                Place::Authorization,
                &field.name,
                Kind::OnlyOnPage,
                field.type_label.clone(),
                "no such security scheme".into(),
                &[],
            ),
        }
    }
    for (key, location, at) in &schemes {
        if !page
            .authorizations
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(key))
        {
            ctx.differ(
                Place::Authorization,
                key,
                Kind::OnlyInSpec,
                "no such header".into(),
                format!("string in {location}"),
                std::slice::from_ref(at),
            );
        }
    }

    // The request body.
    let body_schema = op
        .pointer("/requestBody/content/application~1json/schema")
        .map(|s| {
            (
                s.clone(),
                format!("{op_at}/requestBody/content/application~1json/schema"),
            )
        });
    match (&page.body, &body_schema) {
        (Some(body), Some((schema, at))) => {
            let desc = describe(spec, schema, at);
            ctx.object(Place::Request, &body.fields, &desc);
        }
        (Some(body), None) => ctx.differ(
            Place::Request,
            "",
            Kind::OnlyOnPage,
            body.media_type.clone().unwrap_or_else(|| "a body".into()),
            "no request body".into(),
            &op_chain,
        ),
        (None, Some(_)) => ctx.differ(
            Place::Request,
            "",
            Kind::OnlyInSpec,
            "no body".into(),
            "application/json".into(),
            &op_chain,
        ),
        (None, None) => {}
    }
    if let (Some(example), Some((schema, _))) = (&page.request_example, &body_schema) {
        ctx.example(Place::RequestExample, example, schema, &op_chain);
    }

    // The responses (the successful ones: errors are the error guide's).
    let response_schema = |status: &str| -> Option<(Value, String)> {
        let mut node = op.get("responses")?.get(status)?;
        let mut at = format!("{op_at}/responses/{}", escape(status));
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let (target, target_at) = spec.target(reference)?;
            node = target;
            at = target_at;
        }
        let schema = node.pointer("/content/application~1json/schema")?;
        Some((
            schema.clone(),
            format!("{at}/content/application~1json/schema"),
        ))
    };
    for response in page.responses.iter().filter(|r| r.status.starts_with('2')) {
        match response_schema(&response.status) {
            Some((schema, at)) => {
                let desc = describe(spec, &schema, &at);
                ctx.object(Place::Response, &response.fields, &desc);
            }
            None => ctx.differ(
                Place::Response,
                &response.status,
                Kind::OnlyOnPage,
                format!(
                    "{} {}",
                    response.status,
                    response.media_type.clone().unwrap_or_default()
                ),
                "no such JSON response".into(),
                &op_chain,
            ),
        }
    }
    if let Some(example) = &page.response_example {
        let status = page
            .responses
            .iter()
            .map(|r| r.status.as_str())
            .find(|s| s.starts_with('2'))
            .unwrap_or("200");
        if let Some((schema, _)) = response_schema(status) {
            ctx.example(Place::ResponseExample, example, &schema, &op_chain);
        }
    }
    ctx.report
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::docs_check::compare::compare;
    use crate::docs_check::page::parse;
    use crate::docs_check::rendering::{parse_page, snapshot, spec};

    /// The examples are really validated: a value of the wrong type deep in the
    /// request example is reported at its path.
    #[test]
    fn nested_example_values_are_validated() {
        let spec = spec();
        let text = snapshot("update-card.txt");
        let changed = text.replacen("      \"5999\",", "      \"59990\",", 1);
        assert_ne!(changed, text);
        let report = compare(&spec, &parse_page(&changed, "update-card"));
        let found: Vec<(Place, &str, Kind)> = report
            .differences
            .iter()
            .map(|d| (d.place, d.field.as_str(), d.kind))
            .collect();
        assert_eq!(
            found,
            [(
                Place::RequestExample,
                "risk_controls.blocked_mcc[0]",
                Kind::Example
            )],
            "{:#?}",
            report.differences
        );
        let _: &Value = parse(&changed).unwrap().request_example.as_ref().unwrap();
    }

    #[test]
    fn paths_match_whatever_their_parameters_are_called() {
        assert_eq!(template("/v1/cards/{id}/status"), "/v1/cards/{}/status");
        assert_eq!(template("/v1/cards/{card_id}/"), "/v1/cards/{}");
    }
}
