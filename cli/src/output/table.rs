//! Convox's tables and info blocks.

/// Columns padded to max(header, longest cell) and joined by two spaces; the last is never padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.push('\n');
        text
    };
    let mut text = line(headers.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// Title-case keys padded to the longest, two spaces, the value; more lines indented to match.
pub fn info(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    let indent = " ".repeat(width + 2);
    let mut text = String::new();
    for (key, value) in rows {
        let mut lines = value.split('\n');
        text.push_str(&format!("{key:<width$}  {}\n", lines.next().unwrap_or("")));
        for more in lines {
            text.push_str(&format!("{indent}{more}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn tables_pad_all_but_the_last_column() {
        let text = table(
            &["ID", "STATUS", "DESCRIPTION"],
            &[
                row(&["release1", "active", "foo"]),
                row(&["release2", "", ""]),
            ],
        );
        assert_eq!(
            text,
            "ID        STATUS  DESCRIPTION\nrelease1  active  foo\nrelease2          \n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(
            table(&["APP", "STATUS", "RELEASE"], &[]),
            "APP  STATUS  RELEASE\n"
        );
    }

    #[test]
    fn info_blocks_align_and_indent_continuations() {
        let text = info(&[
            ("Id", "R1".into()),
            ("Description", "".into()),
            ("Env", "A=1\nB=2".into()),
        ]);
        assert_eq!(
            text,
            "Id           R1\nDescription  \nEnv          A=1\n             B=2\n"
        );
    }
}
