//! The JSON Schemas committed under `docs/schemas/` are the ones the Rust types generate, and files pawl
//! writes validate against them (more real files, written by the `pawl` binary, are validated in the
//! CLI's tests).
//!
//! After changing a file type: `PAWL_BLESS_SCHEMAS=1 cargo test -p pawl-core --test schemas`, then
//! review and commit `docs/schemas/`.

use std::path::{Path, PathBuf};

use pawl_core::schema;

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas")
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let bless = std::env::var("PAWL_BLESS_SCHEMAS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for file in schema::all() {
        let path = schemas_dir().join(file.name);
        let generated = schema::to_file_text(&file.schema);
        if bless {
            std::fs::create_dir_all(schemas_dir()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(file.name);
        }
    }
    assert!(
        stale.is_empty(),
        "docs/schemas/{stale:?} differ from what the types generate: run `PAWL_BLESS_SCHEMAS=1 cargo test -p \
         pawl-core --test schemas` and commit docs/schemas/"
    );
}

#[test]
fn every_schema_is_a_valid_draft_2020_12_schema() {
    for file in schema::all() {
        let value = serde_json::to_value(&file.schema).unwrap();
        jsonschema::draft202012::meta::validate(&value).unwrap_or_else(|e| panic!("{}: {e}", file.name));
        assert!(jsonschema::draft202012::new(&value).is_ok(), "{}", file.name);
    }
}

/// A file of the wrong kind is refused by each schema: they say what they are.
#[test]
fn each_schema_refuses_the_other_kinds() {
    let schemas: Vec<(&str, jsonschema::Validator)> = schema::all()
        .into_iter()
        .map(|f| (f.name, jsonschema::draft202012::new(&serde_json::to_value(&f.schema).unwrap()).unwrap()))
        .collect();
    let empty_baseline = serde_json::to_value(pawl_core::baseline::Baseline::new("s")).unwrap();
    for (name, validator) in &schemas {
        let valid = validator.is_valid(&empty_baseline);
        assert_eq!(valid, *name == "pawl-baseline-1.schema.json", "{name}");
    }
}
