//! Everything the CLI prints: streams, progress lines, tables, info blocks, times and views.
//!
//! Convox's rules (shared/design/convox-output.md): progress and results on stdout, only
//! `ERROR: …` on stderr; with `--id`, everything goes to stderr and stdout gets the bare ID.
//! No colour: plain text is what Convox prints when stdout is not a terminal.

pub mod releases;
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
}

impl Term {
    /// The process's stdout, or stderr when only an ID goes to stdout (`--id`).
    pub fn stdio(id_mode: bool) -> Term {
        let out: Box<dyn Write + Send> = if id_mode {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        Term {
            out,
            id_mode,
            tty: std::io::stdout().is_terminal(),
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
        self.text("OK\n");
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
