//! Progress of long loops: one bar on a terminal (stderr), and otherwise a few plain lines
//! (every quarter) so that logs redirected to a file stay short and free of escapes.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether stderr is a terminal that may receive colours and bars (`NO_COLOR` unset).
pub fn styled_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A counter of done items out of `total`, shown as a bar or as plain lines. Shared across
/// threads by reference.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    total: u64,
    done: AtomicU64,
    /// The last quarter printed in plain mode.
    printed: Mutex<u64>,
}

impl Progress {
    /// A progress of `total` `unit`s, labelled `label` ("epoch 3/10", "synth").
    pub fn new(label: impl Into<String>, total: usize, unit: &str) -> Self {
        let label = label.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}} ({{elapsed}} < {{eta}})"
                ))
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar
        });
        Self {
            bar,
            label,
            total: total as u64,
            done: AtomicU64::new(0),
            printed: Mutex::new(0),
        }
    }

    /// Counts `n` more items done; `message` (e.g. the running loss) joins the bar or line.
    pub fn advance(&self, n: usize, message: impl FnOnce() -> String) {
        let done = self.done.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.show(done, message);
    }

    /// Sets the number of items done.
    pub fn set(&self, done: usize, message: impl FnOnce() -> String) {
        self.done.store(done as u64, Ordering::Relaxed);
        self.show(done as u64, message);
    }

    fn show(&self, done: u64, message: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(message());
            }
            None => {
                let quarter = (done * 4).checked_div(self.total).unwrap_or(4).min(4);
                let mut printed = self.printed.lock().expect("progress lock");
                if quarter > *printed {
                    *printed = quarter;
                    let message = message();
                    let sep = if message.is_empty() { "" } else { " " };
                    println!("{} {done}/{}{sep}{message}", self.label, self.total);
                }
            }
        }
    }

    /// Removes the bar (plain mode has printed its last line at 100 %).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
