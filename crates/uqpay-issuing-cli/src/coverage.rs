//! Every operation of the spec and the command that covers it: a test
//! fails when `spec/uqpay-issuing.yaml` gains an operation that is not in
//! [`OPERATIONS`], or when a command named there is missing from the tree.

/// `operationId` -> the commands that call it (`""`: covered implicitly).
pub const OPERATIONS: &[(&str, &[&str])] = &[
    // Minted by the SDK from the credentials (UQPAY_CLIENT_ID / UQPAY_API_KEY
    // or a profile); no command of its own.
    ("create_access_token", &[]),
    ("assign_card", &["card assign", "bulk assign"]),
    (
        "update_card_status",
        &["card status", "card freeze", "card unfreeze", "card cancel"],
    ),
    ("update_card", &["card update"]),
    ("retrieve_card", &["card get"]),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::OPERATIONS;

    /// The operationIds of the spec's operations (not those its links name).
    fn spec_operations() -> BTreeSet<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/uqpay-issuing.yaml");
        let text = std::fs::read_to_string(path).expect("the spec");
        let spec: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        let mut ids = BTreeSet::new();
        for (_, item) in spec["paths"].as_mapping().expect("paths") {
            for method in [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ] {
                if let Some(id) = item[method]["operationId"].as_str() {
                    ids.insert(id.to_owned());
                }
            }
        }
        ids
    }

    #[test]
    fn every_operation_of_the_spec_has_a_command() {
        let spec = spec_operations();
        assert!(spec.contains("assign_card"), "{spec:?}");
        let covered: BTreeSet<String> = OPERATIONS.iter().map(|(id, _)| id.to_string()).collect();
        let missing: Vec<_> = spec.difference(&covered).collect();
        assert!(
            missing.is_empty(),
            "operations of the spec no command covers (add one, and a line to coverage::OPERATIONS): {missing:?}"
        );
        let gone: Vec<_> = covered.difference(&spec).collect();
        assert!(
            gone.is_empty(),
            "operations no longer in the spec: {gone:?}"
        );
    }

    #[test]
    fn the_commands_named_exist() {
        let tree = crate::cli::command();
        for (id, commands) in OPERATIONS {
            for command in *commands {
                let mut node = &tree;
                for word in command.split(' ') {
                    node = node
                        .find_subcommand(word)
                        .unwrap_or_else(|| panic!("{id}: no command {command:?}"));
                }
            }
        }
    }
}
