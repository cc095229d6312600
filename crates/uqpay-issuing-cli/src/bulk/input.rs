//! The CSV file of a bulk assignment: the header (the four columns the API
//! needs, in any order, and any others, kept for the report) and its rows,
//! each parsed or refused with its row number and column. A file that
//! cannot be read at all (absent, empty, no header, a required column
//! missing) is a usage error.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use uqpay_issuing::CardMode;
use uuid::Uuid;

use crate::enums;
use crate::exit::Failure;

/// The columns a row needs, as the API names its fields.
pub const COLUMNS: [&str; 4] = ["cardholder_id", "card_number", "card_currency", "card_mode"];

/// One row, parsed (the SDK validates the number and the currency before
/// the row is sent).
#[derive(Clone)]
pub struct Row {
    /// The row's number: 1 for the first row after the header.
    pub row: u64,
    /// The cardholder.
    pub cardholder_id: Uuid,
    /// The card number (digits; never printed, never journaled).
    pub card_number: String,
    /// The card's currency.
    pub card_currency: String,
    /// The card's mode.
    pub card_mode: CardMode,
    /// The values of the extra columns.
    pub extra: Vec<String>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("row", &self.row)
            .field("cardholder_id", &self.cardholder_id)
            .field(
                "card_number",
                &uqpay_issuing::raw::pan::mask(&self.card_number),
            )
            .field("card_currency", &self.card_currency)
            .field("card_mode", &self.card_mode)
            .finish()
    }
}

/// A row refused before anything was sent.
#[derive(Clone, Debug)]
pub struct BadRow {
    /// The row's number.
    pub row: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// What is wrong (never the card number itself).
    pub reason: String,
    /// The values of the extra columns, as far as the row has them.
    pub extra: Vec<String>,
}

impl BadRow {
    /// `row 3, column card_mode: ...`.
    pub fn message(&self) -> String {
        match &self.column {
            Some(column) => format!("row {}, column {column}: {}", self.row, self.reason),
            None => format!("row {}: {}", self.row, self.reason),
        }
    }
}

/// The file, read.
#[derive(Debug)]
pub struct Input {
    /// SHA-256 of the header line's columns, joined by commas.
    pub header_sha256: String,
    /// The names of the extra columns.
    pub extra_columns: Vec<String>,
    /// The rows in order.
    pub rows: Vec<Result<Row, BadRow>>,
}

/// Reads and parses the file.
pub fn read(path: &Path) -> Result<Input, Failure> {
    let unreadable = |why: String| Failure::usage(format!("{}: {why}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| unreadable(format!("cannot read it: {e}")))?;
    let header = reader
        .headers()
        .map_err(|e| unreadable(format!("cannot read its header: {e}")))?
        .clone();
    if header.iter().all(str::is_empty) {
        return Err(unreadable(format!(
            "empty: expected a header line {}",
            COLUMNS.join(",")
        )));
    }
    let mut at = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if at.insert(name.to_owned(), i).is_some() {
            return Err(unreadable(format!("the header names column {name} twice")));
        }
    }
    let missing: Vec<_> = COLUMNS.iter().filter(|c| !at.contains_key(**c)).collect();
    if !missing.is_empty() {
        return Err(unreadable(format!(
            "the header lacks column {} (expected {})",
            missing
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            COLUMNS.join(",")
        )));
    }
    let required: Vec<usize> = COLUMNS.iter().map(|c| at[*c]).collect();
    let extra_at: Vec<usize> = (0..header.len())
        .filter(|i| !required.contains(i))
        .collect();
    let header_line = header.iter().collect::<Vec<_>>().join(",");
    let header_sha256 = hex(&Sha256::digest(header_line.as_bytes()));

    let mut rows = Vec::new();
    let mut numbers: HashMap<String, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let row = index as u64 + 1;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                rows.push(Err(BadRow {
                    row,
                    column: None,
                    reason: format!("cannot be read: {e}"),
                    extra: Vec::new(),
                }));
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue; // a blank line
        }
        let extra: Vec<String> = extra_at
            .iter()
            .map(|i| record.get(*i).unwrap_or("").to_owned())
            .collect();
        rows.push(parse(row, &record, &required, &header, extra, &mut numbers));
    }
    Ok(Input {
        header_sha256,
        extra_columns: extra_at.iter().map(|i| header[*i].to_owned()).collect(),
        rows,
    })
}

fn parse(
    row: u64,
    record: &csv::StringRecord,
    required: &[usize],
    header: &csv::StringRecord,
    extra: Vec<String>,
    numbers: &mut HashMap<String, u64>,
) -> Result<Row, BadRow> {
    let bad = |column: &str, reason: String| BadRow {
        row,
        column: Some(column.to_owned()),
        reason,
        extra: extra.clone(),
    };
    if record.len() > header.len() {
        return Err(BadRow {
            row,
            column: None,
            reason: format!(
                "has {} values, the header {} columns",
                record.len(),
                header.len()
            ),
            extra: extra.clone(),
        });
    }
    let mut values = Vec::new();
    for (name, at) in COLUMNS.iter().zip(required) {
        match record.get(*at) {
            Some(value) if !value.is_empty() => values.push(value),
            Some(_) => return Err(bad(name, "is empty".into())),
            None => {
                return Err(bad(
                    name,
                    format!(
                        "is missing (the row has {} of the header's {} columns)",
                        record.len(),
                        header.len()
                    ),
                ))
            }
        }
    }
    let cardholder_id = Uuid::parse_str(values[0]).map_err(|_| {
        bad(
            "cardholder_id",
            format!("{:?} is not a UUID", uqpay_issuing::redact(values[0])),
        )
    })?;
    let card_number: String = values[1].to_owned();
    let card_currency = values[2].to_owned();
    let card_mode: CardMode = values[3].parse().map_err(|_| {
        bad(
            "card_mode",
            format!(
                "{:?} is not a card mode ({})",
                uqpay_issuing::redact(values[3]),
                enums::listed::<CardMode>()
            ),
        )
    })?;
    if let Some(first) = numbers.get(&card_number) {
        return Err(bad(
            "card_number",
            format!("duplicates the card number of row {first} (a card is assigned once)"),
        ));
    }
    numbers.insert(card_number.clone(), row);
    Ok(Row {
        row,
        cardholder_id,
        card_number,
        card_currency,
        card_mode,
        extra,
    })
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Input, Failure> {
        let dir = std::env::temp_dir().join(format!("uqpay-cli-input-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.csv");
        std::fs::write(&path, text).unwrap();
        let input = read(&path);
        std::fs::remove_dir_all(dir).unwrap();
        input
    }

    #[test]
    fn rows_are_parsed_or_refused_by_row_and_column() {
        let id = Uuid::new_v4();
        let input = read_text(&format!(
            "card_mode,cardholder_id,card_number,card_currency,note\n\
             SHARE,{id},4096360800133951,USD,first\n\
             SHARE,not-a-uuid,4096360800133952,USD,x\n\
             TRIPLE,{id},4096360800133953,USD,x\n\
             SHARE,{id},4096360800133951,USD,again\n\
             SHARE,{id},4096360800133954\n"
        ))
        .unwrap();
        assert_eq!(input.extra_columns, ["note"]);
        let first = input.rows[0].as_ref().unwrap();
        assert_eq!((first.row, first.card_mode), (1, CardMode::Share));
        assert_eq!(first.extra, ["first"]);
        let messages: Vec<String> = input.rows[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().message())
            .collect();
        assert!(
            messages[0].starts_with("row 2, column cardholder_id:"),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("row 3, column card_mode:")
                && messages[1].contains("SINGLE, SHARE")
        );
        assert!(messages[2]
            .starts_with("row 4, column card_number: duplicates the card number of row 1"));
        assert!(
            messages[3].starts_with("row 5, column card_currency: is missing"),
            "{messages:?}"
        );
        assert!(messages.iter().all(|m| !m.contains("409636080013395")));
    }

    #[test]
    fn unreadable_files() {
        assert!(read_text("").unwrap_err().message.contains("empty"));
        let lacking = read_text("cardholder_id,card_number,card_currency\n").unwrap_err();
        assert!(
            lacking.message.contains("lacks column card_mode"),
            "{}",
            lacking.message
        );
    }
}
