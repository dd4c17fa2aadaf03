//! Printing rows as aligned columns.

use crate::display_safe::one_line;

/// Formats rows (the first one being the header) as left-aligned columns separated by two spaces.
/// Cells may hold text from plugins and reports: their control characters are shown escaped, so
/// no cell can move the cursor or start a row of its own.
pub fn render(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        if widths.len() < row.len() {
            widths.resize(row.len(), 0);
        }
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(one_line(cell).chars().count());
        }
    }
    let mut out = String::new();
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (column, cell) in row.iter().enumerate() {
            let cell = one_line(cell);
            line.push_str(&cell);
            if column + 1 < row.len() {
                let padding = widths[column] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', padding));
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
