//! Everything the CLI prints: streams, progress lines, tables, info blocks, times and views.
//!
//! Convox's rules (shared/design/convox-output.md): progress and results on stdout, only
//! `ERROR: …` on stderr; with `--id`, everything goes to stderr and stdout gets the bare ID.
//! Colour only on a terminal and never with `NO_COLOR`: plain text is what Convox prints when
//! stdout is not a terminal, and what every test pins.

pub mod diff;
pub mod logs;
pub mod process;
pub mod releases;
pub mod scale;
pub mod table;
#[cfg(test)]
mod tests;
pub mod time;
pub mod views;

use std::io::{IsTerminal, Write};
#[cfg(test)]
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::args::Format;
use crate::error::{Error, Result};

/// Where output goes, and whether stdout is a terminal (which turns masking on).
pub struct Term {
    out: Box<dyn Write + Send>,
    id_mode: bool,
    /// Whether stdout is a terminal.
    pub tty: bool,
    /// Whether to colour headers and `OK` (a terminal, and no `NO_COLOR`).
    pub colour: bool,
}

/// Convox's 256-colour tags: headers grey-blue, `OK` green, `ERROR:` dark red.
const H1: &str = "\x1b[38;5;246m";
const OK: &str = "\x1b[38;5;40m";
const ERROR: &str = "\x1b[38;5;124m";
const ERROR_TEXT: &str = "\x1b[38;5;203m";
const RESET: &str = "\x1b[0m";

/// Whether output on a terminal (`tty`) gets colour: not when `NO_COLOR` is set to anything.
pub fn colour_enabled(tty: bool) -> bool {
    tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `ERROR: <message>` as printed on stderr, coloured when stdout is a coloured terminal.
pub fn error_line(message: &str, colour: bool) -> String {
    if colour {
        format!("{ERROR}ERROR: {RESET}{ERROR_TEXT}{message}{RESET}")
    } else {
        format!("ERROR: {message}")
    }
}

impl Term {
    /// The process's stdout, or stderr when only an ID goes to stdout (`--id`).
    pub fn stdio(id_mode: bool) -> Term {
        let out: Box<dyn Write + Send> = if id_mode {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        let tty = std::io::stdout().is_terminal();
        Term {
            out,
            id_mode,
            tty,
            colour: colour_enabled(tty) && !id_mode,
        }
    }

    /// A Term that writes into a buffer, for tests.
    #[cfg(test)]
    pub fn buffer(tty: bool) -> (Term, Buffer) {
        let buffer = Buffer::default();
        let term = Term {
            out: Box::new(buffer.clone()),
            id_mode: false,
            tty,
            colour: false,
        };
        (term, buffer)
    }

    /// Writes text as is.
    pub fn text(&mut self, text: &str) {
        // A closed pipe (`convox releases | head`) is not an error worth reporting.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Writes one line.
    pub fn line(&mut self, line: &str) {
        self.text(&format!("{line}\n"));
    }

    /// Starts a progress step: `Verb object... ` with no newline.
    pub fn start(&mut self, step: &str) {
        self.text(&format!("{step}... "));
    }

    /// Ends a progress step: `OK`.
    pub fn ok(&mut self) {
        if self.colour {
            self.text(&format!("{OK}OK{RESET}\n"));
        } else {
            self.text("OK\n");
        }
    }

    /// Writes a table (in `format`), its header line coloured on a colour terminal.
    pub fn table(&mut self, format: Format, text: &str) {
        match text.split_once('\n') {
            Some((header, rest)) if self.colour && format == Format::Text => {
                self.text(&format!("{H1}{header}{RESET}\n{rest}"));
            }
            _ => self.text(text),
        }
    }

    /// Ends a progress step that yielded an ID: `OK, <id>`.
    pub fn ok_id(&mut self, id: &str) {
        self.text(&format!("OK, {id}\n"));
    }

    /// Prints the resulting ID: bare on stdout with `--id`, else nothing.
    pub fn result_id(&mut self, id: &str) {
        if self.id_mode {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(id.as_bytes());
            let _ = stdout.flush();
        }
    }
}

/// A shared byte buffer that a test Term writes into.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Buffer {
    /// The text written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("buffer lock").clone()).expect("utf-8 output")
    }
}

#[cfg(test)]
impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders a view as text, JSON or YAML.
pub fn render<T: Serialize>(
    format: Format,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<String> {
    match format {
        Format::Text => Ok(text()),
        Format::Json => serde_json::to_string_pretty(value)
            .map(|json| format!("{json}\n"))
            .map_err(|err| Error::Local(format!("rendering JSON: {err}"))),
        Format::Yaml => serde_saphyr::to_string(value)
            .map_err(|err| Error::Local(format!("rendering YAML: {err}"))),
    }
}

/// The keys whose values are shown as `****`: only on a terminal, and never with `--reveal`.
pub fn mask_keys(term: &Term, reveal: bool, secret_keys: &[String]) -> Vec<String> {
    if term.tty && !reveal {
        secret_keys.to_vec()
    } else {
        Vec::new()
    }
}

/// `Setting A, B`: a progress step naming keys.
pub fn keys_step(verb: &str, keys: &[String]) -> String {
    format!("{verb} {}", keys.join(", "))
}
