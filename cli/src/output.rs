//! Where output goes: results on stdout (JSON lines with `--json`),
//! progress on stderr, as bars on a terminal and as plain lines elsewhere.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// How the command's output is written.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON for scripts instead of text for people.
    pub json: bool,
    /// Say what is happening.
    pub verbose: bool,
    /// Whether stderr is a terminal (progress bars) or not (plain lines).
    pub terminal: bool,
}

impl Output {
    /// Output as the flags ask, on this process's stderr.
    pub fn new(json: bool, verbose: bool) -> Self {
        Self {
            json,
            verbose,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Whether progress is drawn as bars.
    pub fn bars(&self) -> bool {
        self.terminal && !self.json
    }

    /// Print `value` as one line of JSON on stdout.
    pub fn json_line(&self, value: &Value) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer(&mut stdout, value)?;
        writeln!(stdout)
    }

    /// Print `text` on stdout for people (nothing with `--json`).
    pub fn say(&self, text: &str) -> std::io::Result<()> {
        if self.json {
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", text.trim_end())
    }

    /// Print `text` on stdout as it is (a CSV file).
    pub fn raw(&self, text: &str) -> std::io::Result<()> {
        std::io::stdout().lock().write_all(text.as_bytes())
    }

    /// Tell people on stderr what is going on (nothing with `--json`).
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }

    /// A spinner saying `message` on a terminal; hidden elsewhere.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !self.bars() {
            return ProgressBar::hidden();
        }
        let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template"),
        );
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner
    }
}
