//! Log lines as Convox prints them: `<RFC3339> service/<service>/<pod> <line>`, and the rollout
//! diagnosis shown before `ERROR: rollback`.

use jiff::Timestamp;

use super::time::rfc3339;

/// One line of a process: `<RFC3339> service/<service>/<pod> <text>`.
pub fn log_line(at: Option<Timestamp>, service: &str, pod: &str, text: &str) -> String {
    format!(
        "{} service/{service}/{pod} {}",
        rfc3339(at),
        text.trim_end()
    )
}

/// Splits a line that the API server prefixed with its timestamp (`timestamps=true`).
pub fn split_stamp(line: &str) -> (Option<Timestamp>, &str) {
    match line.split_once(' ') {
        Some((stamp, rest)) => match stamp.parse::<Timestamp>() {
            Ok(at) => (Some(at), rest),
            Err(_) => (None, line),
        },
        None => match line.parse::<Timestamp>() {
            Ok(at) => (Some(at), ""),
            Err(_) => (None, line),
        },
    }
}

/// `convox builds logs`: the build's story and events as `<RFC3339> system/k8s/build/<B>` lines.
// Slipway builds take images: there is no builder output to show.
pub fn build_log(
    build: &super::views::BuildView,
    events: &[(Option<Timestamp>, String)],
) -> String {
    let object = format!("build/{}", build.id);
    let mut lines = vec![(build.started, "Started".to_string())];
    lines.extend(events.iter().cloned());
    let end = match (build.status.as_str(), &build.reason) {
        ("complete", _) => Some(format!("Complete: release {}", build.release)),
        ("failed", Some(reason)) => Some(format!("Failed: {reason}")),
        ("failed", None) => Some("Failed".to_string()),
        _ => None,
    };
    lines.extend(end.map(|e| (build.ended, e)));
    lines.sort_by_key(|(at, _)| *at);
    lines
        .iter()
        .map(|(at, note)| format!("{}\n", super::views::event_line(*at, &object, note)))
        .collect()
}

/// Whether a line passes `--filter` (plain substring, as Convox's filter is for text).
pub fn passes(line: &str, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| line.contains(f))
}

/// Why a promoted release was rolled back: its failing process, the reason, its last lines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnosis {
    /// The process (pod) that failed.
    pub pod: String,
    /// Its service.
    pub service: String,
    /// The reason Kubernetes gives (CrashLoopBackOff, ErrImagePull, …) and its message.
    pub reason: String,
    /// The last lines the process wrote.
    pub lines: Vec<String>,
}

/// The lines printed before `ERROR: rollback`, so the cause is on screen without another command.
pub fn diagnosis_text(d: &Diagnosis) -> String {
    let mut text = format!(
        "Rolled back: process {} of service {} failed: {}\n",
        d.pod, d.service, d.reason
    );
    if !d.lines.is_empty() {
        text.push_str(&format!("Last lines of {}:\n", d.pod));
        for line in &d.lines {
            text.push_str(&format!("  {}\n", line.trim_end()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_lines_name_service_and_pod() {
        let at: Timestamp = "2026-06-24T11:59:58.123Z".parse().unwrap();
        assert_eq!(
            log_line(Some(at), "web", "myapp-web-745f845dc-rzl2q", "GET / 200\n"),
            "2026-06-24T11:59:58Z service/web/myapp-web-745f845dc-rzl2q GET / 200"
        );
    }

    #[test]
    fn server_stamps_are_split_off() {
        let (at, text) = split_stamp("2026-06-24T11:59:58.123456789Z listening on :5000");
        assert_eq!(rfc3339(at), "2026-06-24T11:59:58Z");
        assert_eq!(text, "listening on :5000");
        assert_eq!(split_stamp("no stamp here"), (None, "no stamp here"));
        assert_eq!(split_stamp("2026-06-24T11:59:58Z").1, "");
    }

    #[test]
    fn a_build_log_tells_its_story() {
        let at = |s: &str| Some(s.parse::<Timestamp>().unwrap());
        let build = super::super::views::BuildView {
            id: "BABCDEFGHIJ".into(),
            status: "complete".into(),
            release: "RBCDEFGHIJK".into(),
            started: at("2026-06-24T11:58:00Z"),
            ended: at("2026-06-24T11:58:02Z"),
            description: String::new(),
            reason: None,
        };
        let events = vec![(
            at("2026-06-24T11:58:01Z"),
            "Created release RBCDEFGHIJK".to_string(),
        )];
        assert_eq!(
            build_log(&build, &events),
            "\
2026-06-24T11:58:00Z system/k8s/build/BABCDEFGHIJ Started
2026-06-24T11:58:01Z system/k8s/build/BABCDEFGHIJ Created release RBCDEFGHIJK
2026-06-24T11:58:02Z system/k8s/build/BABCDEFGHIJ Complete: release RBCDEFGHIJK
"
        );
    }

    #[test]
    fn filters_are_substrings() {
        assert!(passes("GET /health 200", Some("health")));
        assert!(!passes("GET / 200", Some("health")));
        assert!(passes("anything", None));
    }

    #[test]
    fn a_diagnosis_names_the_crash_and_its_last_lines() {
        let d = Diagnosis {
            pod: "myapp-web-745f845dc-rzl2q".into(),
            service: "web".into(),
            reason: "CrashLoopBackOff (exit code 3, restarted 4 times)".into(),
            lines: vec!["booting".into(), "panic: DATABASE_URL not set\n".into()],
        };
        assert_eq!(
            diagnosis_text(&d),
            "\
Rolled back: process myapp-web-745f845dc-rzl2q of service web failed: CrashLoopBackOff (exit code 3, restarted 4 times)
Last lines of myapp-web-745f845dc-rzl2q:
  booting
  panic: DATABASE_URL not set
"
        );
        let quiet = Diagnosis {
            lines: vec![],
            reason: "ErrImagePull".into(),
            ..d
        };
        assert!(!diagnosis_text(&quiet).contains("Last lines"));
    }
}
