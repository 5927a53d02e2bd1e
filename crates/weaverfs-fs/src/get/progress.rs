//! Progress bars on a terminal (one per active file and a total), nothing otherwise.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to draw progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    Always,
    Never,
}

impl ProgressMode {
    pub fn enabled(self) -> bool {
        match self {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Always => true,
            ProgressMode::Never => false,
        }
    }
}

pub struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
    enabled: bool,
}

/// Name, bar, bytes done and to do, rate, time left.
const TEMPLATE: &str =
    "{prefix:30!} {bar:25} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} {eta:>4}";

impl Progress {
    pub fn new(mode: ProgressMode) -> Self {
        let enabled = mode.enabled();
        let target = match mode {
            ProgressMode::Never => ProgressDrawTarget::hidden(),
            ProgressMode::Auto => ProgressDrawTarget::stderr(),
            // indicatif hides bars off a terminal unless drawn to it as a plain `TermLike`.
            ProgressMode::Always => ProgressDrawTarget::term_like_with_hz(
                Box::new(console::Term::buffered_stderr()),
                20,
            ),
        };
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(
            ProgressBar::new(0)
                .with_style(style(TEMPLATE))
                .with_prefix("total"),
        );
        Progress {
            multi,
            total,
            enabled,
        }
    }

    /// Adds `bytes` to the total to fetch.
    pub fn expect(&self, bytes: u64) {
        self.total.inc_length(bytes);
    }

    /// A bar for one file, shown above the total while the file downloads.
    pub fn file(&self, name: &str, size: u64) -> FileBar {
        let bar = self.multi.insert_before(
            &self.total,
            ProgressBar::new(size)
                .with_style(style(TEMPLATE))
                .with_prefix(name.to_string()),
        );
        FileBar {
            bar,
            total: self.total.clone(),
            multi: self.multi.clone(),
        }
    }

    pub fn finish(&self) {
        if self.enabled {
            self.total.finish();
        } else {
            self.total.finish_and_clear();
        }
    }
}

/// The bar of one file; removed from the display when dropped.
pub struct FileBar {
    bar: ProgressBar,
    total: ProgressBar,
    multi: MultiProgress,
}

impl FileBar {
    /// Bytes already on disk from an earlier run.
    pub fn resumed(&self, bytes: u64) {
        self.bar.set_position(bytes);
        self.bar.reset_eta();
        self.total.inc(bytes);
    }

    pub fn inc(&self, bytes: u64) {
        self.bar.inc(bytes);
        self.total.inc(bytes);
    }

    /// Takes back what this file counted, when it restarts from byte 0.
    pub fn restart(&self) {
        let pos = self.bar.position();
        self.bar.set_position(0);
        self.total
            .set_position(self.total.position().saturating_sub(pos));
    }
}

impl Drop for FileBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        self.multi.remove(&self.bar);
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
