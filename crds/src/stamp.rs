//! Sortable creation stamps, so "newest first" holds within one second.

use jiff::Timestamp;

/// A fixed-width RFC 3339 UTC stamp with nanoseconds; it sorts as text in time order.
pub fn creation_stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}

/// The stamp for now.
pub fn now_stamp() -> String {
    creation_stamp(Timestamp::now())
}

/// The sort key of an object: its stamp, or its creationTimestamp when it has none; then its name.
pub fn sort_key(stamp: Option<&str>, created: Option<Timestamp>, name: &str) -> (String, String) {
    let stamp = match (stamp, created) {
        (Some(s), _) => s.to_string(),
        (None, Some(t)) => creation_stamp(t),
        (None, None) => String::new(),
    };
    (stamp, name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_in_time_order_within_a_second() {
        let a: Timestamp = "2026-01-01T00:00:00.000000009Z".parse().unwrap();
        let b: Timestamp = "2026-01-01T00:00:00.1Z".parse().unwrap();
        let c: Timestamp = "2026-01-01T00:00:01Z".parse().unwrap();
        let stamps = [creation_stamp(a), creation_stamp(b), creation_stamp(c)];
        assert_eq!(stamps[0], "2026-01-01T00:00:00.000000009Z");
        assert_eq!(stamps[1], "2026-01-01T00:00:00.100000000Z");
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn objects_without_a_stamp_sort_by_creation_time() {
        let t: Timestamp = "2026-01-01T00:00:05Z".parse().unwrap();
        let hand_written = sort_key(None, Some(t), "v1");
        let stamped = sort_key(Some("2026-01-01T00:00:05.500000000Z"), None, "ra");
        assert!(hand_written < stamped);
    }
}
