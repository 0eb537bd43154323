//! JSON Schemas (draft 2020-12) of the files pawl writes for other programs to read, generated from the
//! very types that write and read them: the run file (`pawl-run/1`), the baseline (`pawl-baseline/1`)
//! and the JSON report (`pawl-report/1`). `docs/schemas/` holds them, and a test keeps those files equal
//! to what this module generates.
//!
//! Run files and baselines are described as pawl reads them (fields with a default may be left out);
//! the report as pawl writes it.

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema};

use crate::baseline::{BASELINE_SCHEMA, Baseline};
use crate::report::json::{Report, SCHEMA as REPORT_SCHEMA};
use crate::run::{RUN_SCHEMA, Run};

/// One schema file: its name under `docs/schemas/` and its content.
#[derive(Debug)]
pub struct SchemaFile {
    pub name: &'static str,
    pub schema: Schema,
}

/// Every schema file, in a stable order.
pub fn all() -> Vec<SchemaFile> {
    vec![
        SchemaFile {
            name: "pawl-run-1.schema.json",
            schema: generate::<Run>(
                Contract::Deserialize,
                format!("pawl run file ({RUN_SCHEMA})"),
                "What one `pawl run` measured: the machine, the settings and every case's samples.",
            ),
        },
        SchemaFile {
            name: "pawl-baseline-1.schema.json",
            schema: generate::<Baseline>(
                Contract::Deserialize,
                format!("pawl baseline ({BASELINE_SCHEMA})"),
                "Per testbed, per case, the figure to beat; `pawl ratchet` moves it up.",
            ),
        },
        SchemaFile {
            name: "pawl-report-1.schema.json",
            schema: generate::<Report<'static>>(
                Contract::Serialize,
                format!("pawl JSON report ({REPORT_SCHEMA})"),
                "Verdicts of a comparison, with the settings that produced them (`pawl check --json`, \
                 `--format json`).",
            ),
        },
    ]
}

/// The schema of `T`, with a title and a description of its own.
fn generate<T: JsonSchema>(contract: Contract, title: String, description: &str) -> Schema {
    let settings = SchemaSettings::draft2020_12().with(|s| s.contract = contract);
    let mut schema = settings.into_generator().into_root_schema_for::<T>();
    schema.insert("title".to_owned(), title.into());
    schema.insert("description".to_owned(), description.into());
    schema
}

/// A schema as its file holds it: pretty JSON and a final newline.
pub fn to_file_text(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema is JSON");
    text.push('\n');
    text
}
