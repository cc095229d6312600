//! Capturing `tracing` output, for tests that look for secrets in it.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

/// Everything a [`Capture::subscriber`] wrote while a [`Recording`] of it
/// was open, for inspection.
///
/// A test binary runs many tests at once, and a subscriber can only be
/// installed for the whole process (scoped subscribers miss events when
/// tests run in parallel): the subscriber therefore records nothing (and
/// formats nothing) until a test opens a recording, and stops when the last
/// open one is dropped. What it records meanwhile is every event and span
/// of the process, whichever test it comes from.
#[derive(Clone, Default)]
pub struct Capture {
    text: Arc<Mutex<Vec<u8>>>,
    open: Arc<AtomicUsize>,
}

/// An open recording of a [`Capture`]: it records until this is dropped.
#[must_use = "the capture records only while the recording is kept"]
pub struct Recording(Arc<AtomicUsize>);

impl Drop for Recording {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Capture {
    /// The text captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Records from now until the returned guard is dropped (recordings
    /// may overlap).
    pub fn record(&self) -> Recording {
        self.open.fetch_add(1, Ordering::SeqCst);
        Recording(self.open.clone())
    }

    /// A subscriber recording every event and span field at TRACE level
    /// into this capture while a recording is open.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let capture = self.clone();
        let open = self.open.clone();
        let recording =
            tracing_subscriber::filter::filter_fn(move |_| open.load(Ordering::SeqCst) > 0);
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
                .with_writer(move || capture.clone())
                .with_filter(recording),
        )
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
