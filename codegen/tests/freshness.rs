//! The checked-in generated file is what the spec generates, generation is
//! deterministic, and a changed spec is detected.

use uqpay_codegen::{check, freshness, generate, parse_spec, Freshness, SPEC_PATH};

fn spec_text() -> String {
    std::fs::read_to_string(uqpay_codegen::workspace_root().join(SPEC_PATH)).unwrap()
}

#[test]
fn checked_in_files_are_fresh() {
    let result = check(&uqpay_codegen::workspace_root()).unwrap();
    if let Freshness::Stale(diff) = &result {
        panic!("generated.rs is stale; run `cargo xtask codegen`:\n{diff}");
    }
    assert_eq!(result, Freshness::Fresh);
    let all = uqpay_codegen::check_all(&uqpay_codegen::workspace_root()).unwrap();
    assert_eq!(all.len(), 2);
    for (path, result) in all {
        if let Freshness::Stale(diff) = &result {
            panic!("{path} is stale; run `cargo xtask codegen`:\n{diff}");
        }
        assert_eq!(result, Freshness::Fresh, "{path}");
    }
}

#[test]
fn generation_is_deterministic_and_headed() {
    let spec = parse_spec(&spec_text()).unwrap();
    let first = generate(&spec).unwrap();
    let second = generate(&spec).unwrap();
    assert_eq!(first, second);
    assert!(first.starts_with("// @generated"));
    assert!(first.lines().next().unwrap().contains("DO NOT EDIT"));
}

#[test]
fn an_edited_description_makes_the_file_stale() {
    let text = spec_text();
    let edited = text.replacen(
        "description: Card Mode.",
        "description: Card Mode (edited).",
        1,
    );
    assert_ne!(text, edited, "the test's anchor text is gone from the spec");
    let current = generate(&parse_spec(&text).unwrap()).unwrap();
    let stale = generate(&parse_spec(&edited).unwrap()).unwrap();
    match freshness(Some(&current), &stale) {
        Freshness::Stale(diff) => assert!(diff.contains("Card Mode (edited)."), "{diff}"),
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(freshness(None, &current), Freshness::Missing);
}

#[test]
fn requests_build_their_fixed_parts_at_generation_time() {
    let spec = parse_spec(&spec_text()).unwrap();
    let generated = generate(&spec).unwrap();
    // UUID path parameters are not percent-encoded strings any more...
    assert!(!generated.contains("encode_path(&id.to_string())"));
    assert!(generated.contains("format!(\"{}/v1/issuing/cards/{}\", self.baseurl, id,)"));
    // ...header names are constants, UUID header values come from a buffer.
    assert!(!generated.contains("header_map.append(\""));
    assert_eq!(
        generated
            .matches("const { ::reqwest::header::HeaderName::from_static(\"x-idempotency-key\") }")
            .count(),
        3
    );
    assert!(!generated.contains("x_idempotency_key.to_string()"));
}
