//! Times as Convox shows them: go-humanize ages, `2m0s` durations, RFC 3339 instants.

use jiff::Timestamp;

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
const MONTH: i64 = 30 * DAY;
const YEAR: i64 = 12 * MONTH;
const LONG_TIME: i64 = 37 * YEAR;

/// `5 minutes ago` (go-humanize's rules, truncating); empty for no time.
pub fn ago(then: Option<Timestamp>, now: Timestamp) -> String {
    let Some(then) = then else {
        return String::new();
    };
    let (seconds, label) = if then <= now {
        (now.duration_since(then).as_secs(), "ago")
    } else {
        (then.duration_since(now).as_secs(), "from now")
    };
    let n = |unit: i64| seconds / unit;
    let phrase = match seconds {
        s if s < 1 => return "now".to_string(),
        s if s < 2 => "1 second".to_string(),
        s if s < MINUTE => format!("{s} seconds"),
        s if s < 2 * MINUTE => "1 minute".to_string(),
        s if s < HOUR => format!("{} minutes", n(MINUTE)),
        s if s < 2 * HOUR => "1 hour".to_string(),
        s if s < DAY => format!("{} hours", n(HOUR)),
        s if s < 2 * DAY => "1 day".to_string(),
        s if s < WEEK => format!("{} days", n(DAY)),
        s if s < 2 * WEEK => "1 week".to_string(),
        s if s < MONTH => format!("{} weeks", n(WEEK)),
        s if s < 2 * MONTH => "1 month".to_string(),
        s if s < YEAR => format!("{} months", n(MONTH)),
        s if s < 18 * MONTH => "1 year".to_string(),
        s if s < 2 * YEAR => "2 years".to_string(),
        s if s < LONG_TIME => format!("{} years", n(YEAR)),
        _ => "a long while".to_string(),
    };
    format!("{phrase} {label}")
}

/// `2m0s`, `45s`, minutes never rolled into hours; empty until it has ended.
pub fn elapsed(start: Option<Timestamp>, end: Option<Timestamp>) -> String {
    let (Some(start), Some(end)) = (start, end) else {
        return String::new();
    };
    let seconds = end.duration_since(start).as_secs().max(0);
    if seconds >= MINUTE {
        format!("{}m{}s", seconds / MINUTE, seconds % MINUTE)
    } else {
        format!("{seconds}s")
    }
}

/// RFC 3339 in UTC to the second: `2026-06-24T09:23:48Z`; empty for no time.
pub fn rfc3339(at: Option<Timestamp>) -> String {
    at.map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn now() -> Timestamp {
        "2026-06-24T12:00:00Z".parse().unwrap()
    }

    fn before(seconds: i64) -> Option<Timestamp> {
        Some(now() - SignedDuration::from_secs(seconds))
    }

    #[test]
    fn ages_follow_go_humanize() {
        let cases = [
            (0, "now"),
            (1, "1 second ago"),
            (59, "59 seconds ago"),
            (60, "1 minute ago"),
            (119, "1 minute ago"),
            (120, "2 minutes ago"),
            (HOUR - 1, "59 minutes ago"),
            (HOUR, "1 hour ago"),
            (2 * HOUR, "2 hours ago"),
            (DAY - 1, "23 hours ago"),
            (DAY, "1 day ago"),
            (48 * HOUR, "2 days ago"),
            (49 * HOUR, "2 days ago"),
            (WEEK, "1 week ago"),
            (2 * WEEK, "2 weeks ago"),
            (MONTH - 1, "4 weeks ago"),
            (MONTH, "1 month ago"),
            (2 * MONTH, "2 months ago"),
            (YEAR - 1, "11 months ago"),
            (YEAR, "1 year ago"),
            (18 * MONTH, "2 years ago"),
            (2 * YEAR, "2 years ago"),
            (3 * YEAR, "3 years ago"),
            (LONG_TIME, "a long while ago"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(ago(before(seconds), now()), expected, "{seconds}s");
        }
        assert_eq!(ago(before(-300), now()), "5 minutes from now");
        assert_eq!(ago(None, now()), "");
    }

    #[test]
    fn durations_keep_minutes() {
        assert_eq!(elapsed(before(120), Some(now())), "2m0s");
        assert_eq!(elapsed(before(45), Some(now())), "45s");
        assert_eq!(elapsed(before(90 * 60), Some(now())), "90m0s");
        assert_eq!(elapsed(before(45), None), "");
    }

    #[test]
    fn instants_are_rfc3339_utc_seconds() {
        let at: Timestamp = "2026-06-24T09:23:48.123456Z".parse().unwrap();
        assert_eq!(rfc3339(Some(at)), "2026-06-24T09:23:48Z");
        assert_eq!(rfc3339(None), "");
    }
}
