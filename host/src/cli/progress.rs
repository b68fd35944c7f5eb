//! Progress on stderr, for a person at a terminal. Anywhere else (a pipe, a
//! log file, the tests) every bar is hidden, so what is printed stays the same.

use std::borrow::Cow;
use std::io::{IsTerminal as _, Write};
use std::sync::LazyLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressFinish, ProgressStyle};

/// Every shown bar hangs from here, so a log line can step around them.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// Whether stderr can show a bar: a terminal that can move its cursor.
static SHOWN: LazyLock<bool> =
    LazyLock::new(|| std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb"));

/// Cleared when finished or dropped (an error on the way), so nothing is left above the output.
fn add(bar: ProgressBar, template: &str) -> ProgressBar {
    if !*SHOWN {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ");
    let bar = BARS.add(bar.with_style(style).with_finish(ProgressFinish::AndClear));
    // Redrawn on a clock too: a slow day or a long transaction still shows its elapsed time.
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar over `len` steps (days, for `simulate` and `demo`); the message names the current one.
pub(super) fn bar(len: u64, prefix: &'static str) -> ProgressBar {
    add(ProgressBar::new(len).with_prefix(prefix), "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
}

/// A spinner with the time taken so far, for work of unknown length.
pub(super) fn spinner(message: impl Into<Cow<'static, str>>) -> ProgressBar {
    add(ProgressBar::new_spinner().with_message(message), "{spinner} {msg} ({elapsed})")
}

/// stderr for the log, writing around any bar shown so neither garbles the other.
pub(super) struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !*SHOWN {
            return std::io::stderr().write(buf);
        }
        BARS.suspend(|| std::io::stderr().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if !*SHOWN {
            return std::io::stderr().write_all(buf);
        }
        BARS.suspend(|| std::io::stderr().write_all(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
