//! The shapes a setting may take: health, port, scale, ranges, labels and annotations.

use super::*;

#[test]
fn health_forms() {
    assert_eq!(only("services: {web: {health: /up}}").health.path, "/up");
    let health = only("services: {web: {health: {interval: 20}}}").health;
    assert_eq!(
        (health.interval, health.grace, health.timeout),
        (20, 20, 19)
    );
    // Convox reads 0 as "the default".
    let health = only("services: {web: {health: {interval: 0, grace: 0, timeout: 0}}}").health;
    assert_eq!(health, Health::default());
}

#[test]
fn port_forms() {
    let port = |yaml: &str| {
        only(&format!("services: {{web: {{port: {yaml}}}}}"))
            .port
            .unwrap()
    };
    let http = |number| Port {
        scheme: "http".into(),
        number,
    };
    let https = |number| Port {
        scheme: "https".into(),
        number,
    };
    assert_eq!(port("3000"), http(3000));
    assert_eq!(port("'3000'"), http(3000));
    assert_eq!(port("https:3000"), https(3000));
    assert_eq!(port("{port: 443, scheme: HTTPS}"), https(443));
}

#[test]
fn scale_forms() {
    let count = |yaml: &str| {
        only(&format!("services: {{web: {{scale: {yaml}}}}}"))
            .scale
            .count
    };
    assert_eq!(count("3"), 3);
    assert_eq!(count("1-3"), 1);
    assert_eq!(count("{count: 2-4}"), 2);
    assert_eq!(count("{count: {min: 2, max: 4}}"), 2);
    assert_eq!(count("{min: 3, max: 5}"), 3);
    assert_eq!(count("{cpu: 256}"), 1);
    assert_eq!(count("{count: 0}"), 0);
    let scale = only("services: {web: {scale: {cpu: 0, memory: '512'}}}").scale;
    assert_eq!((scale.cpu, scale.memory), (None, Some(512)));
}

#[test]
fn ranges_autoscale_to_their_targets() {
    let scale = |yaml: &str| only(&format!("services: {{web: {{scale: {yaml}}}}}")).scale;
    assert_eq!(scale("1-5").autoscale(), Some((1, 5)));
    assert_eq!(scale("{count: 2-4}").autoscale(), Some((2, 4)));
    assert_eq!(scale("{min: 3, max: 5}").autoscale(), Some((3, 5)));
    assert_eq!(scale("{count: {min: 2, max: 4}}").autoscale(), Some((2, 4)));
    assert_eq!(scale("3").autoscale(), None);
    assert_eq!(scale("2-2").autoscale(), None);
    let targeted = scale("{count: 1-5, targets: {cpu: 70, memory: 80}}");
    assert_eq!(
        targeted.targets,
        Targets {
            cpu: Some(70),
            memory: Some(80)
        }
    );
}

#[test]
fn labels_and_annotations_as_map_or_list() {
    let web = only("services: {web: {labels: [a=1, b=], annotations: {c: x=y, d: true}}}");
    assert_eq!(web.labels, map(&[("a", "1"), ("b", "")]));
    assert_eq!(web.annotations, map(&[("c", "x=y"), ("d", "true")]));
    let web = only("services: {web: {annotations: [{example.com/a: b}, 'c=d e']}}");
    assert_eq!(
        web.annotations,
        map(&[("c", "d e"), ("example.com/a", "b")])
    );
}
