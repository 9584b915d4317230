//! The recipient list and the results file, as CSV (RFC 4180): a header
//! row naming the columns, fields quoted when they hold a comma, a quote or
//! a line break.

use std::collections::HashMap;
use std::io;
use std::path::Path;

/// One row of the recipient list: its address and every column by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The `email` column.
    pub email: String,
    /// Every column, `email` included.
    pub fields: HashMap<String, String>,
}

/// Reads a recipient list; it must have an `email` column.
pub fn read_list(path: &Path) -> io::Result<(Vec<String>, Vec<Row>)> {
    let text = std::fs::read_to_string(path)?;
    let mut records = parse(&text).into_iter();
    let header = records
        .next()
        .ok_or_else(|| invalid(format!("{}: empty", path.display())))?;
    let email = header
        .iter()
        .position(|column| column.eq_ignore_ascii_case("email"))
        .ok_or_else(|| invalid(format!("{}: no email column", path.display())))?;
    let rows = records
        .filter(|record| record.iter().any(|field| !field.trim().is_empty()))
        .map(|record| Row {
            email: record.get(email).map_or("", |e| e.trim()).to_string(),
            fields: header.iter().cloned().zip(record).collect(),
        })
        .collect();
    Ok((header, rows))
}

/// Splits CSV text into records of fields.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// A field as CSV writes it.
pub fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        let records = parse("email,name\r\na@x.example,\"Doe, \"\"J\"\"\nline\"\nb@y.example,B");
        assert_eq!(records.len(), 3);
        assert_eq!(records[1][1], "Doe, \"J\"\nline");
        assert_eq!(records[2], ["b@y.example", "B"]);
        assert_eq!(
            parse(&format!("{}\n", quote(&records[1][1])))[0][0],
            records[1][1]
        );
    }
}
