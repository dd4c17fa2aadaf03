//! Printing rows as aligned columns.

use crate::display_safe::one_line;
use std::borrow::Cow;

/// Formats rows (the first one being the header) as left-aligned columns separated by two spaces.
/// Cells may hold text from plugins and reports: their control characters are shown escaped, so
/// no cell can move the cursor or start a row of its own.
pub fn render(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<Cow<str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| one_line(cell)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[column]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rows = vec![
            vec!["NAME".to_string(), "KIND".to_string()],
            vec!["trivy".to_string(), "scanner".to_string()],
        ];
        assert_eq!(render(&rows), "NAME   KIND\ntrivy  scanner\n");
    }

    #[test]
    fn a_cell_cannot_start_a_row_of_its_own() {
        let rows = vec![
            vec!["NAME".to_string(), "SUMMARY".to_string()],
            vec!["x".to_string(), "ok\ndpkg  built-in\x1b[1A".to_string()],
        ];
        assert_eq!(
            render(&rows),
            "NAME  SUMMARY\nx     ok\\x0adpkg  built-in\\x1b[1A\n"
        );
    }
}
