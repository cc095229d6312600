//! The generator of `uqpay-issuing-raw`: reads `spec/uqpay-issuing.yaml` and
//! returns the formatted Rust source of the low-level client. Generation
//! only: `cargo xtask docs-check`, which holds the spec to UQPay's pages,
//! lives in xtask.
//!
//! What shapes the generated code is in this crate: [`settings()`]
//! (progenitor's positional interface: each operation a method taking its
//! path and header parameters as arguments and its body by reference, so a
//! caller resends the very same body without copying it; the extra
//! derives, and the handful of
//! schemas that are mapped onto hand-written types of the raw crate because
//! no generated type can carry what they need), `generation` (the pipeline
//! from the spec to formatted source) and `extensions` (the modules generated
//! from the spec's own extensions):
//!
//! | schema         | Rust type                                    | why |
//! | -------------- | -------------------------------------------- | --- |
//! | `Amount`       | `crate::money::Amount`                       | exact decimal money on the wire, never an `f64` |
//! | `Money`        | `crate::money::Money`                        | reported money, a number or a string, read exactly |
//! | `CardNumber`   | `crate::pan::CardNumber`                     | a PAN whose `Debug` shows at most 6 + 4 digits |
//! | `MaskedCardNumber` | `crate::pan::MaskedCardNumber`           | a reported card number, printed masked whatever came |
//! | `ActivationCode` | `crate::secret::ActivationCode`            | a secret whose `Debug` never shows it |
//! | `Timestamp`    | `chrono::DateTime<chrono::FixedOffset>`      | keeps the `+08:00` offset the API sends |
//!
//! Besides progenitor's output, the file gets two generated modules:
//! `constraints` (every documented limit as a constant; a file of its own,
//! `constraints.rs`, since the hand-written types the generated code uses
//! read it) and `events` (the
//! webhook events of the spec's `x-webhooks` map, with their typed data).
//!
//! The output is deterministic: the same spec gives byte-identical source.

// Layer order (`cargo xtask layers` checks it): each module uses only the
// modules listed below it; none uses the root's re-exports.
//
//   generation   the pipeline: spec -> progenitor -> rewrites -> formatted source; freshness
//   settings     progenitor's settings: interface, hooks, derives, type replacements
//   extensions   the spec's extensions and the modules generated from them
//   spec         reading and parsing the spec
//   paths        where the spec and the generated file live
//   error        Error
mod error;
mod extensions;
mod generation;
mod paths;
mod settings;
mod spec;

pub use error::Error;
pub use extensions::{constraints, events, fast_types, FastTypes};
pub use generation::{
    check, check_all, freshness, freshness_of, generate, generate_all, generate_constraints,
    generate_from_path, Freshness, HEADER,
};
pub use paths::{workspace_root, CONSTRAINTS_PATH, OUTPUT_PATH, OUTPUT_PATHS, SPEC_PATH};
pub use settings::settings;
pub use spec::{load_spec, parse_spec};
