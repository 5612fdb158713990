//! Output pinned on fixtures: every table and info view, exactly as printed.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use slipway_crds::{App, Build, Release};

use super::process::*;
use super::releases::*;
use super::views::*;
use super::{Term, keys_step, mask_keys, render};
use crate::args::Format;

const NOW: &str = "2026-06-24T12:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn apps() -> Vec<App> {
    serde_saphyr::from_str(include_str!("fixtures/apps.yaml")).unwrap()
}

fn releases() -> Vec<Release> {
    serde_saphyr::from_str(include_str!("fixtures/releases.yaml")).unwrap()
}

fn builds() -> Vec<Build> {
    serde_saphyr::from_str(include_str!("fixtures/builds.yaml")).unwrap()
}

fn pods() -> Vec<Pod> {
    serde_saphyr::from_str(include_str!("fixtures/pods.yaml")).unwrap()
}

fn env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("TOKEN".to_string(), "s3cret".to_string()),
        ("FOO".to_string(), "bar".to_string()),
    ])
}

#[test]
fn apps_table() {
    let rows: Vec<AppRow> = apps().iter().map(app_row).collect();
    assert_eq!(
        super::views::apps_table(&rows),
        "\
APP    STATUS    RELEASE
myapp  updating  RBCDEFGHIJK
other  failed    RYYYYYYYYYY
fresh  pending   \n"
    );
}

#[test]
fn app_info_blocks() {
    let apps = apps();
    assert_eq!(
        app_info_text(&app_info(&apps[0], false), now()),
        "\
Name        myapp
Status      updating
Generation  4
Locked      false
Release     RBCDEFGHIJK
Desired     RCDEFGHIJKL
Rollout     rolling out RCDEFGHIJKL from RBCDEFGHIJK, started 1 minute ago
"
    );
    assert_eq!(
        app_info_text(&app_info(&apps[1], true), now()),
        "\
Name        other
Status      failed
Generation  0
Locked      true
Release     RYYYYYYYYYY
Desired     RZZZZZZZZZZ
Failed      RZZZZZZZZZZ (ProgressDeadlineExceeded): Deployment other-web made no progress for 600s
"
    );
    assert_eq!(
        app_info_text(&app_info(&apps[2], false), now()),
        "Name        fresh\nStatus      pending\nGeneration  0\nLocked      false\nRelease     \n"
    );
}

#[test]
fn releases_table_marks_active_updating_and_failed() {
    let app = &apps()[0];
    let rows: Vec<ReleaseRow> = releases().iter().map(|r| release_row(r, app)).collect();
    assert_eq!(
        super::releases::releases_table(&rows, now()),
        "\
ID               STATUS    BUILD        CREATED        DESCRIPTION
RDEFGHIJKLM                BABCDEFGHIJ  4 seconds ago  Created from build release: RBCDEFGHIJK and environment release: RCDEFGHIJKL
RCDEFGHIJKL      updating  BABCDEFGHIJ  1 minute ago   env add:FOO
RBCDEFGHIJK      active    BABCDEFGHIJ  5 minutes ago  build 0a1b2c3d4e my commit message
v1-hand-written                         2 days ago     \n"
    );
    let other = &apps()[1];
    assert_eq!(release_status("rzzzzzzzzzz", other), "failed");
    assert_eq!(release_status("ryyyyyyyyyy", other), "active");
    assert_eq!(
        super::releases::releases_table(&[], now()),
        "ID  STATUS  BUILD  CREATED  DESCRIPTION\n"
    );
}

#[test]
fn release_info_masks_secret_keys_only_when_asked() {
    let release = &releases()[1];
    let secret = release.spec.secret_keys.clone();
    let masked = release_info(release, &env(), &secret);
    assert_eq!(
        release_info_text(&masked),
        "\
Id           RCDEFGHIJKL
Build        BABCDEFGHIJ
Created      2026-06-24T11:59:00Z
Description  env add:FOO
Env          FOO=bar
             TOKEN=****
"
    );
    let revealed = release_info(release, &env(), &[]);
    assert!(
        release_info_text(&revealed).ends_with("Env          FOO=bar\n             TOKEN=s3cret\n")
    );

    let hand_written = release_info(&releases()[3], &BTreeMap::new(), &[]);
    assert_eq!(
        release_info_text(&hand_written),
        "\
Id           v1-hand-written
Build        
Created      2026-06-22T12:00:00Z
Description  
Env          \n"
    );
}

#[test]
fn masking_applies_on_a_terminal_without_reveal() {
    let secret = vec!["TOKEN".to_string()];
    let (tty, _) = Term::buffer(true);
    let (pipe, _) = Term::buffer(false);
    assert_eq!(mask_keys(&tty, false, &secret), secret);
    assert!(mask_keys(&tty, true, &secret).is_empty());
    assert!(mask_keys(&pipe, false, &secret).is_empty());
}

#[test]
fn env_lines_sort_by_the_whole_line() {
    let env = BTreeMap::from([
        ("A".to_string(), "1".to_string()),
        ("A0".to_string(), "2".to_string()),
        ("B".to_string(), "x=y".to_string()),
    ]);
    assert_eq!(env_text(&env), "A0=2\nA=1\nB=x=y\n");
    assert_eq!(
        env_text(&masked(&env, &["B".to_string()])),
        "A0=2\nA=1\nB=****\n"
    );
    assert_eq!(env_text(&BTreeMap::new()), "\n");
}

#[test]
fn builds_table_and_info() {
    let rows: Vec<BuildView> = builds().iter().map(build_view).collect();
    assert_eq!(
        super::views::builds_table(&rows, now()),
        "\
ID           STATUS    RELEASE      STARTED         ELAPSED  DESCRIPTION
BBCDEFGHIJK  running                10 seconds ago           build 1b2c3d4e5f fix the header
BABCDEFGHIJ  complete  RBCDEFGHIJK  2 days ago      2m0s     build 0a1b2c3d4e my commit message
BAAAAAAAAAA  failed                 2 days ago      3s       \n"
    );
    assert_eq!(
        build_info_text(&rows[1], now()),
        "\
Id           BABCDEFGHIJ
Status       complete
Release      RBCDEFGHIJK
Description  build 0a1b2c3d4e my commit message
Started      2 days ago
Elapsed      2m0s
"
    );
    assert_eq!(
        build_info_text(&rows[2], now()),
        "\
Id           BAAAAAAAAAA
Status       failed
Release      
Description  
Started      2 days ago
Elapsed      3s
Reason       service web: no Dockerfile at ./Dockerfile
"
    );
}

#[test]
fn ps_table() {
    let rows: Vec<ProcessRow> = pods().iter().map(process_row).collect();
    assert_eq!(
        super::process::ps_table(&rows, now()),
        "\
ID                            SERVICE  STATUS   RELEASE      STARTED         COMMAND
myapp-web-745f845dc-rzl2q     web      running  RCDEFGHIJKL  2 minutes ago   bin/web --port 5000
myapp-worker-5d8c7b9f4-abcde  worker   crashed  RCDEFGHIJKL  20 seconds ago  
myapp-web-run-qwert           web      failed   RBCDEFGHIJK  2 days ago      sh -c bin/migrate
"
    );
}

#[test]
fn ps_info_blocks() {
    let pods = pods();
    assert_eq!(
        process_info_text(&process_info(&pods[0]), now()),
        "\
Id        myapp-web-745f845dc-rzl2q
App       myapp
Command   bin/web --port 5000
Instance  
Release   RCDEFGHIJKL
Service   web
Started   2 minutes ago
Status    running
Image     nginx
Restarts  0
"
    );
    let run = process_info_text(&process_info(&pods[2]), now());
    assert!(run.contains("Instance  node-1\n"), "{run}");
    assert!(
        run.ends_with("Restarts  0\nReason    Error (exit code 3)\n"),
        "{run}"
    );
}

#[test]
fn rollout_lines_and_progress_steps() {
    let at: Timestamp = "2019-01-01T00:00:49.5Z".parse().unwrap();
    assert_eq!(
        event_line(Some(at), "app/myapp", "Status: Running => Updating\n"),
        "2019-01-01T00:00:49Z system/k8s/app/myapp Status: Running => Updating"
    );
    let (mut term, out) = Term::buffer(false);
    term.start(&keys_step("Setting", &["A".into(), "B".into()]));
    term.ok();
    term.line("Release: RCDEFGHIJKL");
    term.start("Rolling back to RBCDEFGHIJK");
    term.ok_id("RDEFGHIJKLM");
    term.start("Promoting RDEFGHIJKLM");
    assert_eq!(
        out.text(),
        "Setting A, B... OK\nRelease: RCDEFGHIJKL\nRolling back to RBCDEFGHIJK... OK, RDEFGHIJKLM\nPromoting RDEFGHIJKLM... "
    );
}

#[test]
fn gitops_snippet_names_the_object() {
    assert_eq!(
        gitops_snippet("myapp", "rcdefghijkl", None),
        "apiVersion: slipway.dev/v1alpha1\nkind: App\nmetadata:\n  name: myapp\nspec:\n  release: rcdefghijkl"
    );
    assert!(gitops_snippet("myapp", "r", Some(2)).ends_with("  release: r\n  retry: 2"));
}

#[test]
fn json_and_yaml_views() {
    let app = &apps()[0];
    let rows: Vec<ReleaseRow> = releases()
        .iter()
        .take(1)
        .map(|r| release_row(r, app))
        .collect();
    let json = render(Format::Json, &rows, || unreachable!()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value[0]["id"], "RDEFGHIJKLM");
    assert_eq!(value[0]["created"], "2026-06-24T11:59:55.1Z");
    let yaml = render(Format::Yaml, &app_row(app), || unreachable!()).unwrap();
    assert_eq!(yaml, "app: myapp\nstatus: updating\nrelease: RBCDEFGHIJK\n");
    assert_eq!(render(Format::Text, &rows, || "t".into()).unwrap(), "t");
}

#[test]
fn colour_only_on_a_colour_terminal_and_never_in_json() {
    let (mut term, out) = Term::buffer(true);
    term.colour = true;
    term.table(Format::Text, "APP  STATUS\nmyapp  running\n");
    term.table(Format::Json, "[\n]\n");
    term.start("Scaling web");
    term.ok();
    assert_eq!(
        out.text(),
        "\x1b[38;5;246mAPP  STATUS\x1b[0m\nmyapp  running\n[\n]\nScaling web... \x1b[38;5;40mOK\x1b[0m\n"
    );
    let (mut plain, out) = Term::buffer(false);
    plain.table(Format::Text, "APP  STATUS\n");
    plain.ok();
    assert_eq!(out.text(), "APP  STATUS\nOK\n");
    assert_eq!(super::error_line("rollback", false), "ERROR: rollback");
    assert_eq!(
        super::error_line("rollback", true),
        "\x1b[38;5;124mERROR: \x1b[0m\x1b[38;5;203mrollback\x1b[0m"
    );
    assert!(!super::colour_enabled(false));
}
