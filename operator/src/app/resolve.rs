//! Resolve: a Release and its environment, read from the API and checked, and kept in memory
//! while nothing can have changed them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use slipway_crds::env::{self, Env};
use slipway_crds::{Release, id, pinned};

use super::error::AppError;
use super::plan::{Invalid, Plan, plan};

/// How long a resolved release is trusted without a new look at its env Secret.
// Secrets are not watched (the operator may not list them): a Secret deleted under a running
// release is seen by the first look after this, as the resync saw it before there was a cache.
const TRUSTED_FOR: Duration = Duration::from_secs(60);

/// How many entries may be added between two sweeps of the untrusted ones.
const SWEEP_EVERY: usize = 128;

/// A release ready to render, and the env Secret the operator must make for it, if any.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// What to render.
    pub plan: Plan,
    /// The Secret pinning a hand-written release's plain env; CLI releases bring their own.
    pub own_secret: Option<Secret>,
}

/// What a release name resolves to.
#[derive(Clone, Debug)]
pub enum Resolution {
    /// A release that can run.
    Usable(Arc<Resolved>),
    /// Why it cannot, in words a person can act on.
    Unusable(Invalid),
}

impl Resolution {
    /// Why the release cannot run, if it cannot.
    pub fn invalid(&self) -> Option<&Invalid> {
        match self {
            Resolution::Usable(_) => None,
            Resolution::Unusable(invalid) => Some(invalid),
        }
    }
}

/// Where a release is looked up: the API, the release store, and what was resolved before.
pub struct Lookup<'a> {
    /// The client reads go through.
    pub client: &'a kube::Client,
    /// The namespace of the App.
    pub namespace: &'a str,
    /// The App's name.
    pub app: &'a str,
    /// The App's progress deadline, which the plan carries.
    pub progress_deadline: i32,
    /// What the App asked for, as [`super::intent`] hashes it: any change of it means a fresh look.
    pub intent: u64,
    /// Whether to read afresh whatever is remembered.
    pub fresh: bool,
    /// The release as the watch holds it (trimmed), if it holds it yet.
    pub stored: Option<&'a Release>,
}

/// Releases resolved lately, by namespace and name.
///
/// Releases and their env Secrets are immutable, so a release read once renders the same until
/// it is deleted or replaced. An entry is used only while the watch holds the same Release (same
/// uid), the App asks for nothing new (a change of its spec, labels or annotations is a person
/// asking for a fresh look, and must see a Secret damaged since) and for [`TRUSTED_FOR`].
#[derive(Default)]
pub struct Resolutions(Mutex<HashMap<(String, String), Entry>>);

struct Entry {
    uid: String,
    intent: u64,
    checked: Instant,
    resolved: Arc<Resolved>,
}

impl Resolutions {
    /// Resolves release `name` as `lookup` says, from memory when it may.
    pub async fn resolve(&self, lookup: &Lookup<'_>, name: &str) -> Result<Resolution, AppError> {
        if let Some(resolved) = self.remembered(lookup, name) {
            return Ok(Resolution::Usable(resolved));
        }
        let Some((release, secret)) = read(lookup, name).await? else {
            let invalid = Invalid(format!("no such release: {}", id::display_id(name)));
            return Ok(Resolution::Unusable(invalid));
        };
        let uid = release.uid().unwrap_or_default();
        let release = check(lookup, &release, secret.as_ref());
        let resolved = match release {
            Ok(resolved) => Arc::new(resolved),
            Err(invalid) => return Ok(Resolution::Unusable(invalid)),
        };
        let entry = Entry {
            uid,
            intent: lookup.intent,
            checked: Instant::now(),
            resolved: resolved.clone(),
        };
        let mut entries = self.lock();
        // Entries past their trust are of no use: swept now and then, so they cannot pile up.
        if entries.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            entries.retain(|_, e| e.checked.elapsed() < TRUSTED_FOR);
        }
        entries.insert(key(lookup.namespace, name), entry);
        Ok(Resolution::Usable(resolved))
    }

    /// Notes that the env Secret of hand-written release `name` now exists.
    pub fn secret_made(&self, namespace: &str, name: &str) {
        if let Some(entry) = self.lock().get_mut(&key(namespace, name)) {
            let resolved = Resolved {
                own_secret: None,
                ..Resolved::clone(&entry.resolved)
            };
            entry.resolved = Arc::new(resolved);
        }
    }

    /// Forgets `release`, which the watch saw deleted.
    pub fn forget(&self, release: &Release) {
        let namespace = release.namespace().unwrap_or_default();
        self.lock().remove(&key(&namespace, &release.name_any()));
    }

    /// Forgets everything, when the watch lists afresh and may have missed deletions.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn remembered(&self, lookup: &Lookup<'_>, name: &str) -> Option<Arc<Resolved>> {
        let stored = lookup.stored.filter(|_| !lookup.fresh)?;
        let entries = self.lock();
        let entry = entries.get(&key(lookup.namespace, name))?;
        let same = stored.uid().as_deref() == Some(entry.uid.as_str())
            && entry.intent == lookup.intent
            && entry.checked.elapsed() < TRUSTED_FOR
            && entry.resolved.plan.app == lookup.app;
        same.then(|| {
            if entry.resolved.plan.progress_deadline == lookup.progress_deadline {
                return entry.resolved.clone();
            }
            let mut resolved = Resolved::clone(&entry.resolved);
            resolved.plan.progress_deadline = lookup.progress_deadline;
            Arc::new(resolved)
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn key(namespace: &str, name: &str) -> (String, String) {
    (namespace.to_string(), name.to_string())
}

// A release as read, with the Secret holding (or to hold) its env; None when there is no such
// release. The watch already says which Secret a stored release names, so both are read at once: a
// promote waits for one round trip, not two in a row.
async fn read(
    lookup: &Lookup<'_>,
    name: &str,
) -> Result<Option<(Release, Option<Secret>)>, AppError> {
    let failed = |source| AppError::Resolve {
        release: name.to_string(),
        source,
    };
    let releases: Api<Release> = Api::namespaced(lookup.client.clone(), lookup.namespace);
    let secrets: Api<Secret> = Api::namespaced(lookup.client.clone(), lookup.namespace);
    let guess = lookup.stored.map(|stored| secret_of(stored, name));
    let (release, mut secret) = match &guess {
        Some(guess) => {
            let (release, secret) =
                futures::future::join(releases.get_opt(name), secrets.get_opt(guess)).await;
            (release.map_err(failed)?, secret.map_err(failed)?)
        }
        None => (releases.get_opt(name).await.map_err(failed)?, None),
    };
    let Some(release) = release else {
        return Ok(None);
    };
    // No guess, or the release was replaced since the store saw it: read the Secret it names.
    let named = secret_of(&release, name);
    if guess.as_ref() != Some(&named) {
        secret = secrets.get_opt(&named).await.map_err(failed)?;
    }
    Ok(Some((release, secret)))
}

/// The Secret that holds a release's env: the one it names, or the one the operator makes.
fn secret_of(release: &Release, name: &str) -> String {
    match &release.spec.env_secret {
        Some(reference) => reference.name.clone(),
        None => env::secret_name(name),
    }
}

/// Checks a release and its env Secret, and makes its plan.
fn check(
    lookup: &Lookup<'_>,
    release: &Release,
    secret: Option<&Secret>,
) -> Result<Resolved, Invalid> {
    let name = release.name_any();
    let display = id::display_id(&name);
    let env = pinned::release_env(release, secret)
        .map_err(|problem| Invalid(format!("release {display}: {problem}")))?;
    let (secret_name, own_secret) = match &release.spec.env_secret {
        Some(reference) => (reference.name.clone(), None),
        None => {
            unsquatted(&name, &env, secret)?;
            let (own, _) = env::pinned_secret(lookup.app, &name, &env);
            // An own Secret that exists already (and holds the env) needs no making.
            (env::secret_name(&name), secret.is_none().then_some(own))
        }
    };
    if let Err(e) = env::validate(&env).and_then(|()| env::check_size(&env)) {
        return Err(Invalid(format!("release {display}: {e}")));
    }
    let plan = plan(
        lookup.app,
        release,
        &env,
        &secret_name,
        lookup.progress_deadline,
    )?;
    Ok(Resolved { plan, own_secret })
}

// A hand-written release's Secret is made by the operator; one that is there already must hold
// the release's env, or the pods would run with values the release never had.
fn unsquatted(release: &str, env: &Env, secret: Option<&Secret>) -> Result<(), Invalid> {
    let Some(secret) = secret else {
        return Ok(());
    };
    let holds = env::from_secret(secret).map(|held| env::hash(&held));
    if holds.as_ref() == Ok(&env::hash(env)) {
        return Ok(());
    }
    Err(Invalid(format!(
        "release {}: the Secret {} holds other values than the release's env; delete it and the operator makes it again",
        id::display_id(release),
        env::secret_name(release)
    )))
}
