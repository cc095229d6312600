//! The comparison behind `cargo xtask docs-check`: a page of UQPay's API
//! reference (read by the page reader) against the spec's operation of the
//! same method and path (or, for a webhook page, the envelope with the
//! `data` schema the spec's `x-webhooks` names for the event).
//!
//! Compared, field by field (headers, path and query parameters, the
//! authorization header, request body and response fields as far as the
//! page shows them): a field on one side only, its type and format,
//! required or not, enum values, maximum and minimum length, numeric range,
//! and every example the page gives (a field's `Example:`, the curl
//! `--data`, the response example, a webhook's payload) validated by a JSON
//! Schema validator against the spec's schema, converted from OpenAPI 3.0.
//!
//! A deliberate difference is acknowledged in the spec, next to the field,
//! by an `x-docs-deviation` map from the kind of difference (see
//! [`Kind::key`](difference::Kind::key)) to what it acknowledges and why:
//!
//! ```yaml
//! x-docs-deviation:
//!   type:
//!     "string": The pages say string; the spec reads a UUID because ...
//!   extra-values:
//!     PRE_CANCEL: Sent by UQPay though the page does not list it ...
//!   only-in-spec: Why the spec has a field the page does not show.
//! ```
//!
//! A keyed entry names what the page says (its type, `required` or
//! `optional`, its length or range, `none`) or, for enum values, the value;
//! so if the page changes again at that field, or another kind of
//! difference appears there, it is reported. Nothing else silences a
//! difference.
//!
//! The parts: [`endpoint`] and [`webhook`] (the two kinds of page),
//! [`fields`] (field by field, and the record of each difference),
//! [`describe`] (a spec schema in the page's terms), [`spec`] (the spec and
//! its deviations), [`schema`] (JSON Schema validation of the examples),
//! and [`difference`] (what is found).

pub mod describe;
pub mod difference;
#[cfg(test)]
mod drift;
pub mod endpoint;
pub mod fields;
pub mod schema;
pub mod spec;
pub mod webhook;

use crate::docs_check::compare::difference::Report;
use crate::docs_check::compare::endpoint::compare_endpoint;
use crate::docs_check::compare::spec::Spec;
use crate::docs_check::compare::webhook::compare_webhook;
use crate::docs_check::page::model::{Page, Target};

/// Compares a page with the spec.
pub fn compare(spec: &Spec, page: &Page) -> Report {
    match &page.target {
        Target::Endpoint { method, path } => compare_endpoint(spec, page, method, path),
        Target::Webhook { events } => compare_webhook(spec, page, events),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs_check::rendering::{pages, parse_page, render, spec, Lang};

    #[test]
    fn every_snapshot_reads_the_same_in_both_languages_and_agrees_with_the_spec() {
        let spec = spec();
        for (name, text) in pages() {
            let chinese = parse_page(&render(&text, Lang::Chinese), &name);
            let english = parse_page(&render(&text, Lang::English), &name);
            assert_eq!(
                chinese, english,
                "{name}: the two renderings read differently"
            );
            assert!(
                chinese.body.is_some() || !chinese.responses.is_empty(),
                "{name}: no body and no response read"
            );
            let report = compare(&spec, &chinese);
            assert!(
                report.differences.is_empty(),
                "{name}: {:#?}",
                report.differences
            );
            assert!(!report.covers.is_empty(), "{name} covers no operation");
        }
    }
}
