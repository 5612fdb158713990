//! Watches that deliver again within seconds of the API server coming back.
//!
//! kube-runtime's default backoff grows to 30 s and is reset only after 120 s without an error,
//! and a Controller sleeps its whole merged trigger stream on an error from any one of its
//! watches. An API server restart gives every watch a burst of errors (refused connections
//! while it is down, 503 while it starts, 410 Gone for a watch resumed from a resourceVersion
//! its new cache does not hold), so every trigger of a controller, the App watch too, slept
//! for one to two minutes after the server was back (measured: 64 to 127 s).
//! Here each watch backs off on its own, from 250 ms to at most 2 s and reset by any event,
//! and its errors are logged and dropped before they reach the controller.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt, future};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher;

use crate::metrics::Metrics;

/// The first wait after a watch error.
const FIRST: Duration = Duration::from_millis(250);
/// The longest wait between two attempts of a watch.
const LONGEST: Duration = Duration::from_secs(2);

/// Backoff of one watch: doubling from 250 ms to 2 s, back to 250 ms after any event.
#[derive(Debug, Clone)]
pub struct Quick {
    next: Duration,
}

impl Default for Quick {
    fn default() -> Self {
        Quick { next: FIRST }
    }
}

impl Iterator for Quick {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let wait = self.next;
        self.next = (wait * 2).min(LONGEST);
        // A little jitter, so the watches of one operator do not retry in lockstep.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Some(wait + Duration::from_millis(u64::from(nanos % 100)))
    }
}

impl Backoff for Quick {
    fn reset(&mut self) {
        self.next = FIRST;
    }
}

/// `stream` without its errors (logged), so they never put the controller's triggers to sleep;
/// what it delivers is counted in `slipway_watch_events_total{watch}`.
pub fn without_errors<K, S>(
    stream: S,
    watch: &'static str,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    S: Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    K: Send + 'static,
{
    stream.filter_map(move |item| {
        future::ready(match item {
            Ok(object) => {
                metrics.watched(watch);
                Some(Ok(object))
            }
            Err(error) => {
                tracing::warn!(watch, %error, "Watch failed; retrying");
                None
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_to_two_seconds_and_an_event_resets_it() {
        let mut backoff = Quick::default();
        for expected in [250, 500, 1000, 2000, 2000, 2000] {
            let wait = backoff.next().unwrap().as_millis();
            assert!((expected..expected + 100).contains(&wait), "{wait} ms");
        }
        backoff.reset();
        assert!(backoff.next().unwrap() < Duration::from_millis(400));
    }
}
