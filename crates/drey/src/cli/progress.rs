//! A spinner for commands that wait, drawn on stderr only when both stdout
//! and stderr are terminals: a script that captures the output (or pipes
//! it) sees nothing but the result.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A spinner with a message; hidden unless a person is watching.
pub struct Spinner(ProgressBar);

impl Spinner {
    /// Starts spinning with `message`.
    pub fn start(message: impl Into<String>) -> Spinner {
        let bar = if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(message.into());
        Spinner(bar)
    }

    /// Replaces the message.
    pub fn set(&self, message: impl Into<String>) {
        self.0.set_message(message.into());
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
