//! The page reader: turns a page of UQPay's API reference, as a browser
//! copies it from the Mintlify site (or as saved into `spec/docs/`), into a
//! description of the operation it documents. No network: the input is text.
//!
//! A page looks like this (labels in English or in Chinese, one item a line):
//!
//! ```text
//! POST                          <- the method, then the path in pieces
//! /
//! v1
//! ...
//! Assign Card                   <- the title
//! curl --request POST \         <- the request example (`--url`, `--data`)
//!   --url https://.../api/v1/issuing/cards/assign \
//!   --data '{ ... }'
//! { ... }                       <- the response example
//! Authorizations | 授权          <- sections: Headers | 请求头, Path Parameters |
//! x-auth-token                     路径参数, Query Parameters | 查询参数,
//! string                           Body | 请求体, Response | 响应
//! header
//! required | 必填                <- then, per field: name, type, location,
//! The API token ...                required, description, and the labelled
//! Maximum string length: 26        attributes below
//! Required range: x >= 0 | 必填范围: x >= 0
//! Available options: A, B | 可用选项: A, B
//! Example: "A" | 示例: "A"
//! ```
//!
//! A webhook page starts with `WEBHOOK` and the event type(s) instead of a
//! method and a path; its JSON example is the payload and its `Body` the
//! envelope.
//!
//! Nested fields are read when the page shows them with their parent's
//! path (`risk_controls.blocked_mcc`); a collapsed object (`risk_controls
//! object` with no children shown) is just that field.
//!
//! The parts: [`labels`] (the words the page is read by), [`header`] (the
//! method and path, or the webhook's events; the title), [`curl`] (the
//! request example), [`json`] (the JSON examples, found in linear time),
//! [`sections`] and [`fields`] (the sections and their fields), [`ranges`]
//! (`Required range`), and [`model`] (what a page documents).

mod curl;
mod fields;
mod header;
mod json;
pub mod labels;
pub mod model;
pub mod ranges;
mod sections;

use crate::docs_check::page::curl::{api_path, read_curl};
use crate::docs_check::page::header::read_header;
use crate::docs_check::page::json::first_json;
use crate::docs_check::page::labels::{normalise, section_of};
use crate::docs_check::page::model::{Page, PageError, Target};
use crate::docs_check::page::sections::read_sections;

/// Reads a page. `text` is the page as copied or saved.
pub fn parse(text: &str) -> Result<Page, PageError> {
    let lines = normalise(text);
    let first_section = lines
        .iter()
        .position(|l| section_of(l).is_some())
        .unwrap_or(lines.len());
    let curl_at = lines[..first_section]
        .iter()
        .position(|l| l.trim_start().starts_with("curl "));
    let head_end = curl_at.unwrap_or(first_section);

    let (header_target, title, after_header) = read_header(&lines[..head_end]);
    let curl = match curl_at {
        Some(at) => Some(read_curl(&lines, at)?),
        None => None,
    };
    // The JSON shown beside the request: after the curl, or (no curl) after the header.
    let examples_from = match &curl {
        Some(curl) => curl.end,
        None => after_header,
    };
    let example = first_json(&lines[examples_from.min(first_section)..first_section])?;

    let target = match (header_target, &curl) {
        (Some(Target::Endpoint { method, path }), Some(curl)) => {
            if let Some(curl_method) = &curl.method {
                if *curl_method != method {
                    return Err(PageError(format!(
                        "the page's header says {method} but its curl says --request {curl_method}"
                    )));
                }
            }
            if let Some(url_path) = &curl.path {
                if !url_path.ends_with(&path) {
                    return Err(PageError(format!(
                        "the page's header says {path} but its curl --url is {}",
                        curl.url.as_deref().unwrap_or_default()
                    )));
                }
            }
            Target::Endpoint { method, path }
        }
        (Some(target), _) => target,
        (None, Some(curl)) => match (&curl.path, &curl.method) {
            (Some(path), method) => Target::Endpoint {
                method: method
                    .clone()
                    .unwrap_or_else(|| if curl.data.is_some() { "POST" } else { "GET" }.to_owned()),
                path: api_path(path),
            },
            (None, _) => return Err(PageError(
                "not an endpoint page: its curl has no --url and there is no method and path line"
                    .into(),
            )),
        },
        (None, None) => return Err(PageError(
            "not an endpoint page: no method and path (a line GET/POST/... followed by the path, \
                 or a curl --url) and no WEBHOOK line"
                .into(),
        )),
    };

    let mut page = Page {
        target,
        title,
        authorizations: Vec::new(),
        headers: Vec::new(),
        path_parameters: Vec::new(),
        query_parameters: Vec::new(),
        body: None,
        responses: Vec::new(),
        request_example: None,
        response_example: None,
    };
    match (&page.target, curl) {
        (Target::Webhook { .. }, _) => page.request_example = example,
        (Target::Endpoint { .. }, Some(curl)) => {
            page.request_example = curl.data;
            page.response_example = example;
        }
        (Target::Endpoint { .. }, None) => page.response_example = example,
    }
    if first_section == lines.len() {
        return Err(PageError(format!(
            "not an endpoint page: {} but none of the sections (Authorizations, Headers, \
             Path Parameters, Query Parameters, Body, Response or 授权, 请求头, 路径参数, \
             查询参数, 请求体, 响应)",
            page.target
        )));
    }
    read_sections(&lines[first_section..], &mut page)?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs_check::page::json::bytes_read;
    use crate::docs_check::rendering::{render, snapshot, LANGS};

    /// Pages made to be slow read in work linear in their size: the JSON
    /// parser is handed a few times the page at most (before, 15,000 lines
    /// of `{` were parsed 15,000 times over; a field of 30,000 `Example: {`
    /// lines, as many).
    #[test]
    fn hostile_pages_are_read_in_linear_work() {
        let head = "POST\n/\nv1\n/\nthings\nThing\n";
        let field = "Body\napplication/json\na\nobject\n";
        for (what, page, readable) in [
            ("every line an open brace", "{\n".repeat(60_000), false),
            (
                "a field of examples that never close",
                format!("{head}{field}{}", "Example: {\n".repeat(30_000)),
                true,
            ),
            (
                "an example that never closes",
                format!("{head}{field}Example:\n[\n{}", "1,\n".repeat(30_000)),
                true,
            ),
            (
                "nested arrays failing deep inside",
                format!("{head}{}", format!("{}x\n", "[\n".repeat(120)).repeat(250)),
                false,
            ),
        ] {
            let before = bytes_read();
            let result = parse(&page);
            let work = bytes_read() - before;
            assert_eq!(result.is_ok(), readable, "{what}: {result:?}");
            assert!(
                work <= 3 * page.len(),
                "{what}: {work} bytes parsed for a page of {}",
                page.len()
            );
        }
    }

    #[test]
    fn a_small_page_in_english() {
        let page = parse(
            "GET\n/\nv1\n/\nthings\n/\n{id}\nRetrieve Thing\n\
             curl --request GET \\\n  --url https://api.example.com/api/v1/things/{id} \\\n  --header 'x-auth-token: <api-key>'\n\
             {\n  \"id\": \"a\"\n}\n\
             Authorizations\n\u{200B}\nx-auth-token\nstring\nheader\nrequired\nThe token.\n\
             Path Parameters\n\u{200B}\nid\nstring<uuid>\nrequired\nThe id.\n\nExample:\n\"71fdb0fe-9682-457a-9361-e8868694f12f\"\n\
             Response\n200 - application/json\nThe thing.\n\
             id\nstring\nrequired\nIts id.\n\nMaximum string length: 26\n\
             kind\nenum<string>\nAvailable options: A, B\n\
             size\nnumber\nRequired range: 0 <= x <= 10\nExample:\n5\n",
        )
        .unwrap();
        assert_eq!(
            page.target,
            Target::Endpoint {
                method: "GET".into(),
                path: "/v1/things/{id}".into()
            }
        );
        assert_eq!(page.title.as_deref(), Some("Retrieve Thing"));
        assert_eq!(page.response_example, Some(serde_json::json!({"id": "a"})));
        assert_eq!(page.request_example, None);
        assert_eq!(page.authorizations[0].location.as_deref(), Some("header"));
        assert!(page.authorizations[0].required);
        assert_eq!(page.path_parameters[0].type_label, "string<uuid>");
        let response = &page.responses[0];
        assert_eq!(response.status, "200");
        assert_eq!(response.media_type.as_deref(), Some("application/json"));
        assert_eq!(response.description, "The thing.");
        assert_eq!(response.fields[0].max_length, Some(26));
        assert_eq!(response.fields[1].options, ["A", "B"]);
        assert!(!response.fields[1].required);
        assert_eq!(
            response.fields[2].range.as_ref().unwrap().to_string(),
            "0 <= x <= 10"
        );
        assert_eq!(response.fields[2].example, Some(serde_json::json!(5)));
    }

    #[test]
    fn not_an_endpoint_page() {
        let err = parse("# Notes\n\nSome research notes.\n").unwrap_err();
        assert!(err.0.contains("not an endpoint page"), "{err}");
        let err = parse("POST\n/\nv1\n/\nthings\nThing\n").unwrap_err();
        assert!(err.0.contains("none of the sections"), "{err}");
    }

    #[test]
    fn the_endpoint_pages_read_as_their_operations() {
        let text = snapshot("update-card.txt");
        for lang in LANGS {
            let page = parse(&render(&text, lang)).unwrap();
            assert_eq!(
                page.target,
                Target::Endpoint {
                    method: "POST".into(),
                    path: "/v1/issuing/cards/{id}".into()
                }
            );
            assert_eq!(page.title.as_deref(), Some("Update Card"));
            assert_eq!(page.authorizations[0].name, "x-auth-token");
            assert_eq!(page.authorizations[0].location.as_deref(), Some("header"));
            let headers: Vec<(&str, &str, bool)> = page
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.type_label.as_str(), h.required))
                .collect();
            assert_eq!(
                headers,
                [
                    ("x-on-behalf-of", "string", false),
                    ("x-idempotency-key", "string<uuid>", true)
                ]
            );
            let body = page.body.as_ref().unwrap();
            assert_eq!(body.media_type.as_deref(), Some("application/json"));
            let field = |name: &str| body.fields.iter().find(|f| f.name == name).unwrap();
            assert_eq!(field("name_on_card").max_length, Some(26));
            assert_eq!(
                field("card_limit").range.as_ref().unwrap().to_string(),
                "x >= 0"
            );
            assert_eq!(
                field("card_limit").example,
                Some(serde_json::json!(2100.02))
            );
            assert_eq!(field("spending_controls").type_label, "object[]");
            assert_eq!(
                field("metadata").example,
                Some(serde_json::json!({"key1": "value1", "key2": "value2"}))
            );
            let data = page.request_example.as_ref().unwrap();
            assert_eq!(
                data["risk_controls"]["blocked_mcc"],
                serde_json::json!(["5999", "6011"])
            );
            assert_eq!(
                page.response_example.as_ref().unwrap()["order_status"],
                "SUCCESS"
            );
            let response = &page.responses[0];
            assert_eq!(response.status, "200");
            let order_status = response
                .fields
                .iter()
                .find(|f| f.name == "order_status")
                .unwrap();
            assert_eq!(
                order_status.options,
                ["PENDING", "PROCESSING", "SUCCESS", "FAILED"]
            );
            assert!(order_status.required);
        }
    }
}
