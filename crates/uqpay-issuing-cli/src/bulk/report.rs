//! The report of a bulk run (`--report FILE`): one CSV line per row of the
//! input, `row,card_id,card_order_id,status,error`, then the input's extra
//! columns. Written whole at the end of the run (to a temporary file,
//! renamed), 0600. Every value is redacted (an extra column holding a card
//! number shows it masked).

use std::path::Path;

use uqpay_issuing::redact;

use crate::bulk::plan::Outcome;
use crate::exit::Failure;

/// The report's fixed columns.
pub const COLUMNS: [&str; 5] = ["row", "card_id", "card_order_id", "status", "error"];

/// Writes the report of `outcomes` (sorted by row).
pub fn write(path: &Path, extra_columns: &[String], outcomes: &[Outcome]) -> Result<(), Failure> {
    let fail =
        |e: String| Failure::internal(format!("cannot write the report {}: {e}", path.display()));
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&temporary).map_err(|e| fail(e.to_string()))?;
    let mut out = csv::Writer::from_writer(file);
    let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend(extra_columns.iter().map(|c| redact(c)));
    out.write_record(&header).map_err(|e| fail(e.to_string()))?;
    for outcome in outcomes {
        let mut record = vec![
            outcome.row.to_string(),
            outcome.card_id.map(|c| c.to_string()).unwrap_or_default(),
            outcome.card_order_id.clone().unwrap_or_default(),
            outcome.status.name().to_owned(),
            outcome.error.as_deref().map(redact).unwrap_or_default(),
        ];
        record.extend(outcome.extra.iter().map(|v| redact(v)));
        record.resize(header.len(), String::new());
        out.write_record(&record).map_err(|e| fail(e.to_string()))?;
    }
    let file = out.into_inner().map_err(|e| fail(e.to_string()))?;
    file.sync_all().map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&temporary, path).map_err(|e| fail(e.to_string()))
}
