//! The spec is well-formed OpenAPI 3.0.3 and carries every documented
//! constraint (these tests fail if a constraint is dropped or loosened).

use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, Type};
use uqpay_codegen::{load_spec, workspace_root, SPEC_PATH};

fn spec() -> OpenAPI {
    load_spec(&workspace_root().join(SPEC_PATH)).expect("the spec parses")
}

fn component<'a>(spec: &'a OpenAPI, reference: &str) -> &'a Schema {
    let name = reference
        .strip_prefix("#/components/schemas/")
        .unwrap_or_else(|| panic!("unexpected reference {reference}"));
    resolve(spec, &spec.components.as_ref().unwrap().schemas[name])
}

fn resolve<'a>(spec: &'a OpenAPI, schema: &'a ReferenceOr<Schema>) -> &'a Schema {
    match schema {
        ReferenceOr::Item(schema) => schema,
        ReferenceOr::Reference { reference } => component(spec, reference),
    }
}

fn resolve_boxed<'a>(spec: &'a OpenAPI, schema: &'a ReferenceOr<Box<Schema>>) -> &'a Schema {
    match schema {
        ReferenceOr::Item(schema) => schema,
        ReferenceOr::Reference { reference } => component(spec, reference),
    }
}

/// The schema of `property` of the component schema `object`, resolved.
fn property<'a>(spec: &'a OpenAPI, object: &str, property: &str) -> &'a Schema {
    let object = resolve(spec, &spec.components.as_ref().unwrap().schemas[object]);
    let SchemaKind::Type(Type::Object(object)) = &object.schema_kind else {
        panic!("not an object");
    };
    resolve_boxed(spec, &object.properties[property])
}

fn max_length(schema: &Schema) -> Option<usize> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => s.max_length,
        _ => None,
    }
}

fn minimum(schema: &Schema) -> Option<f64> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Number(n)) => n.minimum,
        _ => None,
    }
}

#[test]
fn is_openapi_3_0_3_with_both_servers() {
    let spec = spec();
    assert_eq!(spec.openapi, "3.0.3");
    let servers: Vec<&str> = spec.servers.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(
        servers,
        [
            "https://api-sandbox.uqpaytech.com/api",
            "https://api.uqpay.com/api"
        ]
    );
}

#[test]
fn every_operation_has_an_operation_id_and_no_default_response() {
    let spec = spec();
    let mut ids = Vec::new();
    for (path, item) in spec.paths.iter() {
        for (method, op) in item.as_item().unwrap().iter() {
            let id = op
                .operation_id
                .clone()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                op.responses.default.is_none(),
                "{id} has a default response"
            );
            ids.push(id);
        }
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            "assign_card",
            "create_access_token",
            "retrieve_card",
            "update_card",
            "update_card_status"
        ]
    );
}

#[test]
fn every_schema_property_has_a_description() {
    let spec = spec();
    let mut missing = Vec::new();
    for (name, schema) in &spec.components.as_ref().unwrap().schemas {
        let schema = resolve(&spec, schema);
        if schema.schema_data.description.is_none() {
            missing.push(name.clone());
        }
        if let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind {
            for (prop, prop_schema) in &object.properties {
                let has_own = prop_schema
                    .as_item()
                    .is_some_and(|s| s.schema_data.description.is_some());
                let resolved = resolve_boxed(&spec, prop_schema);
                if !has_own && resolved.schema_data.description.is_none() {
                    missing.push(format!("{name}.{prop}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "no description: {missing:?}");
}

#[test]
fn documented_constraints_are_present() {
    let spec = spec();
    assert_eq!(
        max_length(property(&spec, "UpdateCardRequest", "name_on_card")),
        Some(26)
    );
    assert_eq!(
        max_length(property(&spec, "UpdateCardStatusRequest", "update_reason")),
        Some(100)
    );
    assert_eq!(
        minimum(property(&spec, "UpdateCardRequest", "card_limit")),
        Some(0.0)
    );
    assert_eq!(
        minimum(property(
            &spec,
            "UpdateCardRequest",
            "no_pin_payment_amount"
        )),
        Some(0.0)
    );
    assert_eq!(
        minimum(property(&spec, "SpendingControl", "amount")),
        Some(0.0)
    );
    let metadata = &spec.components.as_ref().unwrap().schemas["Metadata"];
    assert_eq!(
        metadata.as_item().unwrap().schema_data.extensions["x-max-bytes"],
        3200
    );
}

#[test]
fn enums_carry_every_documented_value() {
    let spec = spec();
    let values = |name: &str| -> Vec<String> {
        let schema = resolve(&spec, &spec.components.as_ref().unwrap().schemas[name]);
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(s)) => {
                s.enumeration.iter().map(|v| v.clone().unwrap()).collect()
            }
            _ => panic!("{name} is not a string enum"),
        }
    };
    assert_eq!(values("CardMode"), ["SINGLE", "SHARE"]);
    assert_eq!(values("CardStatus"), ["ACTIVE", "FROZEN", "CANCELLED"]);
    assert_eq!(
        values("CardState"),
        [
            "PENDING",
            "ACTIVE",
            "FROZEN",
            "BLOCKED",
            "PRE_CANCEL",
            "CANCELLED",
            "LOST",
            "STOLEN",
            "FAILED"
        ]
    );
    assert_eq!(
        values("OrderState"),
        ["PENDING", "PROCESSING", "SUCCESS", "FAILED"]
    );
    assert_eq!(values("YesNo"), ["Y", "N"]);
    assert!(values("SpendingInterval").contains(&"PER_TRANSACTION".to_owned()));
}

/// `ReportedCardStatus` / `ReportedOrderStatus` are "a known value, or any
/// other string": their `Unknown` branch must exclude exactly the known
/// values, or a known value would match both branches of the `oneOf`.
#[test]
fn open_enums_exclude_exactly_the_known_values() {
    let spec = spec();
    let schemas = &spec.components.as_ref().unwrap().schemas;
    for (open, known) in [
        ("ReportedCardStatus", "CardState"),
        ("ReportedOrderStatus", "OrderState"),
    ] {
        let yaml = serde_json::to_value(schemas[open].as_item().unwrap()).unwrap();
        let excluded = &yaml["oneOf"][1]["not"]["enum"];
        let known = serde_json::to_value(schemas[known].as_item().unwrap()).unwrap();
        assert_eq!(excluded, &known["enum"], "{open}");
    }
}

#[test]
fn shared_headers_and_security() {
    let spec = spec();
    let components = spec.components.as_ref().unwrap();
    let auth = components.security_schemes["AuthToken"].as_item().unwrap();
    assert!(matches!(
        auth,
        openapiv3::SecurityScheme::APIKey { location: openapiv3::APIKeyLocation::Header, name, .. }
            if name == "x-auth-token"
    ));
    let idem = components.parameters["IdempotencyKey"].as_item().unwrap();
    let data = idem.parameter_data_ref();
    assert_eq!(data.name, "x-idempotency-key");
    assert!(data.required);
    let on_behalf = components.parameters["OnBehalfOf"].as_item().unwrap();
    assert!(!on_behalf.parameter_data_ref().required);
    // An account id, a UUID or a short id (never an empty value).
    let openapiv3::ParameterSchemaOrContent::Schema(ReferenceOr::Reference { reference }) =
        &on_behalf.parameter_data_ref().format
    else {
        panic!("x-on-behalf-of refers to the AccountId schema");
    };
    assert_eq!(reference, "#/components/schemas/AccountId");
    let account = components.schemas["AccountId"].as_item().unwrap();
    let SchemaKind::Type(Type::String(account)) = &account.schema_kind else {
        panic!("AccountId is a string");
    };
    assert_eq!(
        (
            account.min_length,
            account.max_length,
            account.pattern.as_deref()
        ),
        (Some(1), Some(64), Some("^[!-~]+$"))
    );
    // Every card operation references both headers (a read only the
    // account); the token endpoint is tagged apart and sends no x-auth-token.
    for (path, item) in spec.paths.iter() {
        let item = item.as_item().unwrap();
        if let Some(get) = &item.get {
            let refs = references(&get.parameters);
            assert!(refs.contains(&"#/components/parameters/OnBehalfOf".into()));
            assert!(!refs.contains(&"#/components/parameters/IdempotencyKey".into()));
        }
        let op = item.post.as_ref().unwrap();
        if path == "/v1/connect/token" {
            assert_eq!(op.tags, ["Authentication"]);
            assert_eq!(op.security.as_deref(), Some(&[][..]));
            continue;
        }
        assert_eq!(op.tags, ["Cards"], "{path}");
        let refs = references(&op.parameters);
        assert!(
            refs.contains(&"#/components/parameters/IdempotencyKey".into()),
            "{path}"
        );
        assert!(
            refs.contains(&"#/components/parameters/OnBehalfOf".into()),
            "{path}"
        );
    }
}

/// The `x-webhooks` map names existing schemas for the card lifecycle
/// events, and the generator turns it into the typed event data.
#[test]
fn every_webhook_event_names_a_payload_schema() {
    let spec = spec();
    let map = spec.extensions["x-webhooks"].as_object().unwrap();
    let schemas = &spec.components.as_ref().unwrap().schemas;
    for event in [
        "card.create.succeeded",
        "card.create.failed",
        "card.update.succeeded",
        "card.update.failed",
        "card.status.update.succeeded",
        "card.status.update.failed",
        "card.activation.code",
        "card.activation.status",
    ] {
        let schema = map[event].as_str().unwrap();
        assert!(schemas.contains_key(schema), "{event}: {schema}");
    }
    let generated = uqpay_codegen::events(&spec).unwrap().to_string();
    assert!(generated.contains("CardStatusUpdated"), "{generated}");
    let mut broken = spec.clone();
    broken.extensions.insert(
        "x-webhooks".into(),
        serde_json::json!({"card.x": "NoSuchSchema"}),
    );
    assert!(uqpay_codegen::events(&broken).is_err());
}

/// The `$ref`s among an operation's parameters.
fn references<T>(parameters: &[ReferenceOr<T>]) -> Vec<String> {
    parameters
        .iter()
        .filter_map(|p| match p {
            ReferenceOr::Reference { reference } => Some(reference.clone()),
            ReferenceOr::Item(_) => None,
        })
        .collect()
}
