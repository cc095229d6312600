//! The progress bar of a bulk run (indicatif, on stderr; drawn only when
//! stderr is a terminal): done / failed / remaining, the rate and the time
//! left.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar.
pub struct Progress {
    bar: ProgressBar,
    failed: u64,
}

impl Progress {
    /// A bar for `total` rows to send.
    pub fn new(total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = if crate::output::color_allowed() {
            "{bar:30.green/white} {pos}/{len} done, {msg} {per_sec} ETA {eta}"
        } else {
            "{bar:30} {pos}/{len} done, {msg} {per_sec} ETA {eta}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        let progress = Self { bar, failed: 0 };
        progress.show();
        progress
    }

    /// A row was assigned.
    pub fn done(&mut self) {
        self.bar.inc(1);
        self.show();
    }

    /// A row failed for good, or was left for the next run.
    pub fn failed(&mut self) {
        self.failed += 1;
        self.bar.inc(1);
        self.show();
    }

    fn show(&self) {
        let remaining = self
            .bar
            .length()
            .unwrap_or(0)
            .saturating_sub(self.bar.position());
        self.bar
            .set_message(format!("{} failed, {remaining} remaining", self.failed));
    }

    /// A message above the bar.
    pub fn println(&self, text: &str) {
        let text = crate::output::redact(text);
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
