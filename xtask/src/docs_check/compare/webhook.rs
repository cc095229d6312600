//! A webhook page against the spec: each event it documents must be in the
//! spec's `x-webhooks` map, and its payload (fields and example) is
//! compared with the `WebhookEvent` envelope whose `data` is the event's
//! schema.

use serde_json::Value;

use crate::docs_check::compare::describe::describe;
use crate::docs_check::compare::difference::{Kind, Place, Report};
use crate::docs_check::compare::fields::Ctx;
use crate::docs_check::compare::spec::{Spec, DEVIATION};
use crate::docs_check::page::model::Page;

/// Compares a webhook page (documenting `events`) with the spec.
pub fn compare_webhook(spec: &Spec, page: &Page, events: &[String]) -> Report {
    let mut ctx = Ctx {
        spec,
        report: Report {
            operation: format!("webhook {}", events.join(", ")),
            ..Report::default()
        },
    };
    let map = spec.document.get("x-webhooks").and_then(Value::as_object);
    let mut schemas: Vec<String> = Vec::new();
    for event in events {
        match map.and_then(|m| m.get(event)).and_then(Value::as_str) {
            Some(schema) => {
                ctx.report.covers.push(event.clone());
                if !schemas.iter().any(|s| s == schema) {
                    schemas.push(schema.to_owned());
                }
            }
            None => ctx.differ(
                Place::Operation,
                event,
                Kind::OnlyOnPage,
                "a webhook event".into(),
                "not in x-webhooks".into(),
                &[],
            ),
        }
    }
    let envelope_at = "/components/schemas/WebhookEvent";
    let Some(envelope) = spec.get(envelope_at) else {
        ctx.differ(
            Place::Operation,
            "",
            Kind::OnlyOnPage,
            "a webhook payload".into(),
            "no WebhookEvent schema".into(),
            &[],
        );
        return ctx.report;
    };
    for schema in schemas {
        // The envelope with `data` typed by the event's schema.
        let mut payload = envelope.clone();
        let data = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        if let Some(props) = payload.get_mut("properties").and_then(Value::as_object_mut) {
            let own = props.get("data").cloned().unwrap_or(Value::Null);
            let mut merged = data.clone();
            if let Some(deviation) = own.get(DEVIATION) {
                merged[DEVIATION] = deviation.clone();
            }
            props.insert("data".into(), merged);
        }
        let mut desc = describe(spec, &payload, envelope_at);
        // `data`'s deviations are the envelope's `data` property's.
        for p in &mut desc.properties {
            if p.0 == "data" {
                p.2 = format!("{envelope_at}/properties/data");
            }
        }
        if let Some(body) = &page.body {
            ctx.object(Place::Payload, &body.fields, &desc);
        }
        if let Some(example) = &page.request_example {
            ctx.example(
                Place::PayloadExample,
                example,
                &payload,
                &[envelope_at.to_owned()],
            );
        }
    }
    ctx.report
}
