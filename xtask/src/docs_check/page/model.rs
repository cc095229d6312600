//! What a page documents, as the reader returns it: the operation (or
//! webhook events), its sections' fields, and its JSON examples.

use std::fmt;

use serde_json::Value;

use crate::docs_check::page::ranges::Range;

/// What an endpoint page documents.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The operation, or the webhook events.
    pub target: Target,
    /// The page's title (`Assign Card`), when there is one. Nothing
    /// compares it: it is read so that it is not taken for an example.
    pub title: Option<String>,
    /// `Authorizations` / `授权`: the security headers.
    pub authorizations: Vec<Field>,
    /// `Headers` / `请求头`.
    pub headers: Vec<Field>,
    /// `Path Parameters` / `路径参数`.
    pub path_parameters: Vec<Field>,
    /// `Query Parameters` / `查询参数`.
    pub query_parameters: Vec<Field>,
    /// `Body` / `请求体`: the request body (the payload of a webhook).
    pub body: Option<Body>,
    /// `Response` / `响应`: each response shown.
    pub responses: Vec<Response>,
    /// The request example: the JSON of the curl `--data` (the payload
    /// example of a webhook page).
    pub request_example: Option<Value>,
    /// The response example (the JSON shown beside the curl).
    pub response_example: Option<Value>,
}

/// The operation or events a page documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An endpoint: method (upper case) and path (`/v1/issuing/cards/{id}`).
    Endpoint {
        /// `GET`, `POST`...
        method: String,
        /// The path below the server URL.
        path: String,
    },
    /// A webhook page: the event types it documents.
    Webhook {
        /// `card.update.succeeded`...
        events: Vec<String>,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Endpoint { method, path } => write!(f, "{method} {path}"),
            Target::Webhook { events } => write!(f, "webhook {}", events.join(", ")),
        }
    }
}

/// A request body (or webhook payload) section.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// `application/json`, when shown.
    pub media_type: Option<String>,
    /// Its fields, nested ones named by path.
    pub fields: Vec<Field>,
}

/// One response of the `Response` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// `200`.
    pub status: String,
    /// `application/json`, when shown.
    pub media_type: Option<String>,
    /// The text under the status line (descriptions are not compared).
    pub description: String,
    /// Its fields, nested ones named by path.
    pub fields: Vec<Field>,
}

/// A field, header or parameter as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The name; a nested field's is its path (`risk_controls.blocked_mcc`).
    pub name: String,
    /// The type as shown: `string`, `string<uuid>`, `enum<string>`,
    /// `object[]`, `number | null`...
    pub type_label: String,
    /// Where an authorization goes (`header`), when shown.
    pub location: Option<String>,
    /// Marked `required` / `必填`.
    pub required: bool,
    /// The description, its lines joined by `\n` (not compared).
    pub description: String,
    /// `Available options` / `可用选项`.
    pub options: Vec<String>,
    /// `Maximum string length` (or the upper end of `Required string length`).
    pub max_length: Option<u64>,
    /// `Minimum string length` (or the lower end of `Required string length`).
    pub min_length: Option<u64>,
    /// `Required range` / `必填范围`.
    pub range: Option<Range>,
    /// `Default` / `默认值`, as shown (not compared).
    pub default: Option<String>,
    /// `Example` / `示例`: parsed as JSON, or the text as a JSON string.
    pub example: Option<Value>,
}

/// Why a page cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PageError(pub String);
