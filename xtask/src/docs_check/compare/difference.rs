//! What a comparison finds: each difference between a page and the spec
//! (where, which field, what kind, both sides), the differences the spec
//! acknowledges, and the report of one page.

use std::fmt;

/// The kinds of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A field, header or parameter (or a whole body, response, operation)
    /// on the page only.
    OnlyOnPage,
    /// On the spec's side only.
    OnlyInSpec,
    /// The type or the format differs (`string` / `string<uuid>`).
    Type,
    /// Required on one side only.
    Required,
    /// Enum values the page lists and the spec does not.
    MissingValues,
    /// Enum values the spec lists and the page does not.
    ExtraValues,
    /// `Maximum string length` / `maxLength`.
    MaxLength,
    /// `Minimum string length` / `minLength`.
    MinLength,
    /// `Required range` / `minimum`, `maximum`.
    Range,
    /// An example of the page that the spec's schema refuses.
    Example,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::OnlyOnPage,
        Kind::OnlyInSpec,
        Kind::Type,
        Kind::Required,
        Kind::MissingValues,
        Kind::ExtraValues,
        Kind::MaxLength,
        Kind::MinLength,
        Kind::Range,
        Kind::Example,
    ];

    /// Its key in an `x-docs-deviation` map.
    pub fn key(self) -> &'static str {
        match self {
            Kind::OnlyOnPage => "only-on-page",
            Kind::OnlyInSpec => "only-in-spec",
            Kind::Type => "type",
            Kind::Required => "required",
            Kind::MissingValues => "missing-values",
            Kind::ExtraValues => "extra-values",
            Kind::MaxLength => "max-length",
            Kind::MinLength => "min-length",
            Kind::Range => "range",
            Kind::Example => "example",
        }
    }

    /// Whether a deviation of this kind names what it acknowledges (a map
    /// from the page's side, or the enum value, to the reason) rather than
    /// just giving the reason: every kind but a field on one side only and
    /// a refused example.
    pub fn keyed(self) -> bool {
        !matches!(self, Kind::OnlyOnPage | Kind::OnlyInSpec | Kind::Example)
    }

    /// The kind whose key is `key`.
    pub fn from_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::OnlyOnPage => "only on the page",
            Kind::OnlyInSpec => "only in the spec",
            Kind::Type => "type",
            Kind::Required => "required",
            Kind::MissingValues => "enum value only on the page",
            Kind::ExtraValues => "enum value only in the spec",
            Kind::MaxLength => "maximum length",
            Kind::MinLength => "minimum length",
            Kind::Range => "range",
            Kind::Example => "example refused by the spec",
        }
    }
}

/// Where on the page a difference is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The operation itself (or a webhook event).
    Operation,
    /// `Authorizations`.
    Authorization,
    /// `Headers`.
    Header,
    /// `Path Parameters`.
    Path,
    /// `Query Parameters`.
    Query,
    /// `Body` of a request.
    Request,
    /// `Body` of a webhook page (the payload).
    Payload,
    /// `Response`.
    Response,
    /// The curl `--data`.
    RequestExample,
    /// The webhook payload example.
    PayloadExample,
    /// The response example.
    ResponseExample,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Operation => "operation",
            Place::Authorization => "authorization",
            Place::Header => "header",
            Place::Path => "path parameter",
            Place::Query => "query parameter",
            Place::Request => "request body",
            Place::Payload => "payload",
            Place::Response => "response",
            Place::RequestExample => "request example",
            Place::PayloadExample => "payload example",
            Place::ResponseExample => "response example",
        })
    }
}

/// One difference between a page and the spec.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// The operation (`update_card (POST /v1/issuing/cards/{id})`).
    pub operation: String,
    /// Where.
    pub place: Place,
    /// The field's path (`risk_controls.blocked_mcc`); empty for the place itself.
    pub field: String,
    /// What differs.
    pub kind: Kind,
    /// The page's side.
    pub page: String,
    /// The spec's side.
    pub spec: String,
    /// What an `x-docs-deviation` of this kind names to acknowledge it: the
    /// page's side (its type, `optional`, `none`...), or the enum value;
    /// none for a field on one side only and for a refused example.
    pub value: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.place)?;
        if !self.field.is_empty() {
            write!(f, " {}", self.field)?;
        }
        write!(
            f,
            ": {}: page {}; spec {}",
            self.kind.describe(),
            self.page,
            self.spec
        )
    }
}

/// A difference the spec acknowledges with an `x-docs-deviation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    /// The difference.
    pub difference: Difference,
    /// The deviation's reason.
    pub reason: String,
    /// The JSON pointer of the spec node that carries it.
    pub at: String,
}

/// The result of comparing one page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The operation compared.
    pub operation: String,
    /// What differs and is not acknowledged.
    pub differences: Vec<Difference>,
    /// What differs and is acknowledged.
    pub acknowledged: Vec<Acknowledged>,
    /// The spec operations (or webhook events) this page covered, as
    /// `operationId`s (or event types).
    pub covers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_reads_as_one_line_and_kinds_by_their_keys() {
        let difference = Difference {
            operation: "update_card (POST /v1/issuing/cards/{id})".into(),
            place: Place::Request,
            field: "name_on_card".into(),
            kind: Kind::MaxLength,
            page: "24".into(),
            spec: "26".into(),
            value: Some("24".into()),
        };
        assert_eq!(
            difference.to_string(),
            "update_card (POST /v1/issuing/cards/{id}): request body name_on_card: maximum length: page 24; spec 26"
        );
        for kind in Kind::ALL {
            assert_eq!(Kind::from_key(kind.key()), Some(kind));
        }
        assert_eq!(Kind::from_key("nope"), None);
        assert!(Kind::Type.keyed() && !Kind::OnlyOnPage.keyed() && !Kind::Example.keyed());
    }
}
