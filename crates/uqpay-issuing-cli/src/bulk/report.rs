//! The report of a bulk run (`--report FILE`): one CSV line per row of the
//! input, `row,card_id,card_order_id,status,error`, then the input's extra
//! columns; then one line per key of the journal in flight or
//! reconcile-required that no row has any more (its `row` empty, its key in
//! `error`). Written whole at the end of the run, to
//! `<FILE>.<pid>.partial` beside it (a name no other file of the run has),
//! then renamed; 0600. Every value is redacted (an extra column holding a
//! card number shows it masked). A report that would take the place of
//! the journal or of the batch's secret is refused before the run starts.

use std::path::{Path, PathBuf};

use uqpay_issuing::redact;

use crate::bulk::outcome::Outcome;
use crate::bulk::secret;
use crate::exit::Failure;

/// The report's fixed columns.
pub const COLUMNS: [&str; 5] = ["row", "card_id", "card_order_id", "status", "error"];

/// Refuses (exit 2) a report at the journal's path or at its secret's.
pub fn check_path(report: &Path, journal: &Path) -> Result<(), Failure> {
    for (what, path) in [
        ("the journal", journal.to_owned()),
        ("the batch's secret", secret::path_for(journal)),
    ] {
        if same_path(report, &path) {
            return Err(Failure::usage(format!(
                "--report {} is {what}: the report would replace it; name another file",
                report.display()
            )));
        }
    }
    Ok(())
}

/// Whether two paths name the same file (the same directory, resolved, and
/// the same name), whether or not it exists.
fn same_path(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> Option<PathBuf> {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        Some(dir.canonicalize().ok()?.join(p.file_name()?))
    };
    match (resolve(a), resolve(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The temporary file the report is written to: `<report>.<pid>.partial`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.partial", std::process::id()));
    PathBuf::from(name)
}

/// Writes the report of `outcomes` (sorted by row, the keys no row has last).
pub fn write(path: &Path, extra_columns: &[String], outcomes: &[Outcome]) -> Result<(), Failure> {
    let fail =
        |e: String| Failure::internal(format!("cannot write the report {}: {e}", path.display()));
    let temporary = partial_path(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&temporary).map_err(|e| fail(e.to_string()))?;
    let written = (|| -> Result<(), String> {
        let mut out = csv::Writer::from_writer(file);
        let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        header.extend(extra_columns.iter().map(|c| redact(c)));
        out.write_record(&header).map_err(|e| e.to_string())?;
        for outcome in outcomes {
            let mut record = vec![
                outcome.row.map(|r| r.to_string()).unwrap_or_default(),
                outcome.card_id.map(|c| c.to_string()).unwrap_or_default(),
                outcome.card_order_id.clone().unwrap_or_default(),
                outcome.status.name().to_owned(),
                outcome.error.as_deref().map(redact).unwrap_or_default(),
            ];
            record.extend(outcome.extra.iter().map(|v| redact(v)));
            record.resize(header.len(), String::new());
            out.write_record(&record).map_err(|e| e.to_string())?;
        }
        let file = out.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&temporary, path).map_err(|e| e.to_string())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_never_names_the_journal_or_its_secret() {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-report-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let journal = dir.join("run.tmp");
        assert!(check_path(&dir.join("run.csv"), &journal).is_ok());
        assert!(check_path(&dir.join("x.tmp"), &journal).is_ok());
        for refused in [
            journal.clone(),
            dir.join("run.tmp.secret"),
            dir.join(".").join("run.tmp"),
        ] {
            let failure = check_path(&refused, &journal).unwrap_err();
            assert_eq!(failure.code, crate::exit::USAGE);
        }
        let partial = partial_path(&dir.join("run.csv"));
        assert_ne!(partial, journal);
        assert!(partial.to_string_lossy().ends_with(".partial"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
