//! CSV in and out, as Russian spreadsheet programs expect it: UTF-8 with a byte-order mark
//! (so Cyrillic opens correctly) and `;` between cells (the Russian locales' list
//! separator); lines end with CRLF, and a cell holding `;`, `"` or a line break is quoted
//! with `"` (doubled inside); a cell starting with `=`, `+`, `-` or `@` gets a leading `'` so
//! that no spreadsheet runs it as a formula. Reading takes `;` or `,` (whichever the header line uses), with
//! or without the mark.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use domain::roster::Table;

/// The media type of CSV answers.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// Whether the caller asks for CSV (`Accept: text/csv`).
#[must_use]
pub fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
        })
}

fn cell(value: &str) -> String {
    // A cell a spreadsheet would take for a formula (a name typed as `=HYPERLINK(...)`) is
    // written as text, with a leading apostrophe (OWASP's advice against CSV injection).
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The rows as a CSV document (with the mark).
#[must_use]
pub fn render(rows: &[Vec<String>]) -> String {
    let mut out = String::from(BOM);
    for row in rows {
        let line: Vec<String> = row.iter().map(|v| cell(v)).collect();
        out.push_str(&line.join(";"));
        out.push_str("\r\n");
    }
    out
}

/// A CSV answer, offered for download as `filename`.
#[must_use]
pub fn response(filename: &str, rows: &[Vec<String>]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(TEXT_CSV)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(render(rows))
}

/// Something that is a table: its header and rows, for the CSV form of a report.
pub trait AsTable {
    fn rows(&self) -> Vec<Vec<String>>;
}

/// A number of hundredths with a decimal comma (`4,07`), as spreadsheets in Russian locales
/// read numbers (the `;` separator leaves the comma free); empty for none.
#[must_use]
pub fn hundredths(value: Option<i64>) -> String {
    value.map_or_else(String::new, |v| format!("{},{:02}", v / 100, v % 100))
}

/// Reads one CSV file into a table: the first record is the header; each row keeps its line
/// number. An empty text is an empty table.
///
/// # Errors
/// A message naming the line of a record that cannot be read (bad quoting, not UTF-8).
pub fn read(text: &str) -> Result<Table, String> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(Table::default());
    }
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.contains(';') || !first_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    // Line numbers from byte offsets (a quoted cell may span lines, and blank lines count):
    // the reader places a record where it began reading it, before any line ends it skipped.
    let bytes = text.as_bytes();
    let line_at = |byte: u64| {
        let mut start = usize::try_from(byte)
            .unwrap_or(bytes.len())
            .min(bytes.len());
        while bytes.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        bytes[..start].iter().filter(|b| **b == b'\n').count() + 1
    };
    let mut table = Table::default();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(i + 1, |p| line_at(p.byte()));
            format!("line {line} cannot be read as CSV")
        })?;
        let line = record.position().map_or(i + 1, |p| line_at(p.byte()));
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if i == 0 {
            table.header = cells;
        } else if !cells.iter().all(|c| c.trim().is_empty()) {
            table.rows.push((line, cells));
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_marks_the_encoding_and_quotes_what_needs_it() {
        let rows = vec![
            vec!["класс".to_owned(), "a;b".to_owned()],
            vec!["5А".to_owned(), "say \"hi\"".to_owned()],
        ];
        assert_eq!(
            render(&rows),
            "\u{feff}класс;\"a;b\"\r\n5А;\"say \"\"hi\"\"\"\r\n"
        );
    }

    #[test]
    fn a_cell_that_looks_like_a_formula_is_written_as_text() {
        let rows = vec![vec![
            "=1+2".to_owned(),
            "@SUM(A1)".to_owned(),
            "4,50".to_owned(),
        ]];
        assert_eq!(render(&rows), "\u{feff}'=1+2;'@SUM(A1);4,50\r\n");
    }

    #[test]
    fn reading_takes_either_separator_and_keeps_line_numbers() {
        let t = read("\u{feff}a;b\r\n1;2\r\n\r\n\"x;y\";3\r\n").unwrap_or_default();
        assert_eq!(t.header, ["a", "b"]);
        assert_eq!(
            t.rows,
            [
                (2, vec!["1".to_owned(), "2".to_owned()]),
                (4, vec!["x;y".to_owned(), "3".to_owned()])
            ]
        );
        let t = read("a,b\n1,2\n").unwrap_or_default();
        assert_eq!(t.rows, [(2, vec!["1".to_owned(), "2".to_owned()])]);
        assert_eq!(hundredths(Some(407)), "4,07");
        assert_eq!(hundredths(None), "");
    }
}
