//! The twenty moments at which the operator is killed, and how each one is recognised.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use slipway_crds::app::workload_name;
use slipway_crds::{App, AppPhase, labels};
use slipway_tests::TestNamespace;
use slipway_tests::operator::Operator;
use slipway_tests::reliability::template_release;

/// What the test asks of the App before the kill.
#[derive(Clone, Copy, Debug)]
pub enum Action {
    /// Promote a release that differs by its env (every Deployment rolls).
    Promote,
    /// Promote a release without the worker service.
    RemoveService,
    /// Promote a release with one more service, queue.
    AddService,
    /// Roll back the way the CLI does: promote a copy of the first release.
    Rollback,
    /// Promote a release whose pods never become Ready (progress deadline).
    NeverReady,
    /// Promote a release whose pods crash-loop.
    CrashLoop,
}

/// When the operator is killed.
#[derive(Clone, Copy, Debug)]
pub enum KillAt {
    /// Right after spec.release is written.
    Immediately,
    /// After the operator logged this many more reconciles.
    Reconciles(usize),
    /// Once status.phase is this.
    Phase(AppPhase),
    /// Once this Deployment's template renders the target.
    Applied(&'static str),
    /// Once the Deployment controller is rolling this Deployment (observed, not all updated).
    MidRollout(&'static str),
    /// Once every Deployment completed the target's rollout.
    DeploymentsDone,
    /// Once status.release names the target.
    StatusMoved,
    /// Once a Deployment reports ProgressDeadlineExceeded.
    DeadlineExceeded,
    /// Once status.failedRelease names the target.
    FailureRecorded,
    /// Once web renders the first release again after the target failed.
    RollbackApplied,
    /// This long after the promotion (the random moments).
    After(std::time::Duration),
}

/// What happens while the operator is down.
#[derive(Clone, Copy, Debug)]
pub enum WhileDown {
    /// Nothing.
    Nothing,
    /// A third release is promoted.
    PromoteAnother,
    /// The operator is started, and killed again after this many reconciles.
    KillAgain(usize),
}

/// One moment of the suite.
pub struct Moment {
    /// What the report calls it.
    pub name: String,
    /// What is asked.
    pub action: Action,
    /// When the kill comes.
    pub kill: KillAt,
    /// What happens while the operator is down.
    pub down: WhileDown,
}

fn m(name: &str, action: Action, kill: KillAt, down: WhileDown) -> Moment {
    Moment {
        name: name.to_string(),
        action,
        kill,
        down,
    }
}

/// All twenty moments, in the order of the report.
pub fn all() -> Vec<Moment> {
    use Action::*;
    use KillAt::*;
    use WhileDown::*;
    vec![
        m(
            "promote: killed as spec.release is written",
            Promote,
            Immediately,
            Nothing,
        ),
        m(
            "promote: killed after 1 reconcile",
            Promote,
            Reconciles(1),
            Nothing,
        ),
        m(
            "promote: killed after 3 reconciles",
            Promote,
            Reconciles(3),
            Nothing,
        ),
        m(
            "promote: killed on phase Updating",
            Promote,
            Phase(AppPhase::Updating),
            Nothing,
        ),
        m(
            "promote: killed once web renders the new release",
            Promote,
            Applied("web"),
            Nothing,
        ),
        m(
            "promote: killed mid-rollout of web",
            Promote,
            MidRollout("web"),
            Nothing,
        ),
        m(
            "promote: killed once every Deployment rolled out",
            Promote,
            DeploymentsDone,
            Nothing,
        ),
        m(
            "promote: killed once status.release moved",
            Promote,
            StatusMoved,
            Nothing,
        ),
        m(
            "promote: killed on Updating, and again after 1 reconcile",
            Promote,
            Phase(AppPhase::Updating),
            KillAgain(1),
        ),
        m(
            "promote: killed on Updating, another release promoted while down",
            Promote,
            Phase(AppPhase::Updating),
            PromoteAnother,
        ),
        m(
            "promote without worker: killed once web renders it (worker not yet pruned)",
            RemoveService,
            Applied("web"),
            Nothing,
        ),
        m(
            "promote with a new service: killed once queue exists",
            AddService,
            Applied("queue"),
            Nothing,
        ),
        m(
            "rollback (copy): killed as spec.release is written",
            Rollback,
            Immediately,
            Nothing,
        ),
        m(
            "rollback (copy): killed on phase Updating",
            Rollback,
            Phase(AppPhase::Updating),
            Nothing,
        ),
        m(
            "rollback (copy): killed mid-rollout of web",
            Rollback,
            MidRollout("web"),
            Nothing,
        ),
        m(
            "automatic rollback (never ready): killed while Updating",
            NeverReady,
            Phase(AppPhase::Updating),
            Nothing,
        ),
        m(
            "automatic rollback (never ready): killed once ProgressDeadlineExceeded",
            NeverReady,
            DeadlineExceeded,
            Nothing,
        ),
        m(
            "automatic rollback (never ready): killed on phase RollingBack",
            NeverReady,
            Phase(AppPhase::RollingBack),
            Nothing,
        ),
        m(
            "automatic rollback (crash loop): killed once web renders the good release again",
            CrashLoop,
            RollbackApplied,
            Nothing,
        ),
        m(
            "automatic rollback (crash loop): killed once failedRelease is recorded, and again after 2 reconciles",
            CrashLoop,
            FailureRecorded,
            KillAgain(2),
        ),
    ]
}

/// The App reconciles the operator logged so far.
pub fn reconciles(operator: &Operator) -> usize {
    operator
        .log()
        .lines()
        .filter(|l| l.contains("Reconciled") && !l.contains("Reconciled build"))
        .count()
}

/// Whether the kill moment has come; `Err` says what was seen.
pub async fn reached(
    ns: &TestNamespace,
    operator: &Operator,
    at: KillAt,
    target: &str,
    good: &str,
    baseline: usize,
) -> Result<String, String> {
    let app = ns
        .api::<App>()
        .get("myapp")
        .await
        .map_err(|e| e.to_string())?;
    let status = app.status.clone().unwrap_or_default();
    let deployments = ns
        .api::<Deployment>()
        .list(&ListParams::default().labels(&format!("{}=myapp", labels::APP)))
        .await
        .map_err(|e| e.to_string())?
        .items;
    let find = |service: &str| {
        deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(&workload_name("myapp", service)))
    };
    let renders = |service: &str, release: &str| {
        find(service).is_some_and(|d| template_release(d).as_deref() == Some(release))
    };
    let seen = format!(
        "phase {}, web renders {}",
        status.phase.map_or("-".into(), |p| p.to_string()),
        find("web").and_then(template_release).unwrap_or_default()
    );
    let hit = match at {
        KillAt::Immediately | KillAt::After(_) => true,
        KillAt::Reconciles(n) => reconciles(operator) >= baseline + n,
        KillAt::Phase(phase) => status.phase == Some(phase),
        KillAt::Applied(service) => renders(service, target),
        KillAt::MidRollout(service) => find(service).is_some_and(|d| {
            let s = d.status.clone().unwrap_or_default();
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            template_release(d).as_deref() == Some(target)
                && s.observed_generation >= d.metadata.generation
                && s.updated_replicas.unwrap_or(0) < want
        }),
        KillAt::DeploymentsDone => {
            !deployments.is_empty()
                && deployments.iter().all(|d| {
                    let s = d.status.clone().unwrap_or_default();
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    template_release(d).as_deref() == Some(target)
                        && s.observed_generation >= d.metadata.generation
                        && s.updated_replicas == Some(want)
                        && s.available_replicas == Some(want)
                })
        }
        KillAt::StatusMoved => status.release.as_deref() == Some(target),
        KillAt::DeadlineExceeded => deployments.iter().any(|d| {
            d.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .any(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
        }),
        KillAt::FailureRecorded => status
            .failed_release
            .as_ref()
            .is_some_and(|f| f.release == target),
        KillAt::RollbackApplied => {
            status
                .failed_release
                .as_ref()
                .is_some_and(|f| f.release == target)
                && renders("web", good)
        }
    };
    if hit { Ok(seen) } else { Err(seen) }
}
