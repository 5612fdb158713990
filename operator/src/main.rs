//! slipway-operator: makes each App's release real through rolling Deployment updates.
#![forbid(unsafe_code)]

mod app;
mod build;
mod context;
mod envowner;
mod error;
mod http;
mod metrics;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, ValueEnum};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::ListParams;
use kube::runtime::reflector;
use kube::{Api, Client};
use slipway_crds::{App, Build, Release};

use crate::context::Context;

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(
    name = "slipway-operator",
    version,
    about = "Makes each Slipway App's release real"
)]
struct Flags {
    /// Namespace to watch; repeat for several. Watches all namespaces when absent.
    #[arg(long = "namespace", env = "SLIPWAY_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "SLIPWAY_LOG_FORMAT")]
    log_format: LogFormat,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080", env = "SLIPWAY_METRICS_ADDR")]
    metrics_addr: SocketAddr,
    /// Run only while holding the Lease, so several replicas are safe.
    #[arg(long, env = "SLIPWAY_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the leader election Lease.
    #[arg(long, default_value = "default", env = "POD_NAMESPACE")]
    lease_namespace: String,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "slipway-operator")]
    lease_name: String,
    /// Seconds a leader's Lease lasts without renewal before another replica may take it.
    #[arg(long, default_value_t = 30, env = "SLIPWAY_LEASE_DURATION")]
    lease_duration: u64,
    /// Seconds before the Lease expires that its holder renews it; less than the duration.
    #[arg(long, default_value_t = 5, env = "SLIPWAY_LEASE_GRACE")]
    lease_grace: u64,
    /// Apps reconciled at once; 0 means no limit.
    #[arg(long, default_value_t = 16, env = "SLIPWAY_CONCURRENCY")]
    concurrency: u16,
    #[command(flatten)]
    build: BuildFlags,
}

/// Source builds: without a builder image and a registry, builds of `build:` services fail.
#[derive(clap::Args, Debug)]
struct BuildFlags {
    /// The builder image (BuildKit and Slipway's build scripts) that build pods run.
    #[arg(long, env = "SLIPWAY_BUILDER_IMAGE", requires = "build_registry")]
    builder_image: Option<String>,
    /// Repository prefix built images go to (`registry/path`); each app gets `<prefix>/<namespace>/<app>`.
    #[arg(long, env = "SLIPWAY_BUILD_REGISTRY", requires = "builder_image")]
    build_registry: Option<String>,
    /// Speak plain HTTP to the build registry.
    #[arg(long, env = "SLIPWAY_BUILD_REGISTRY_INSECURE")]
    build_registry_insecure: bool,
    /// A docker-config Secret, in each app's namespace, with the registry's push credentials.
    #[arg(long, env = "SLIPWAY_BUILD_REGISTRY_SECRET")]
    build_registry_secret: Option<String>,
    /// The ServiceAccount build pods run as (they get no API token).
    #[arg(long, env = "SLIPWAY_BUILD_SERVICE_ACCOUNT")]
    build_service_account: Option<String>,
    /// Longest time a build may take, in seconds.
    #[arg(long, default_value_t = 3600, env = "SLIPWAY_BUILD_TIMEOUT")]
    build_timeout: i64,
}

impl BuildFlags {
    /// The builder these flags describe, if they name one.
    fn builder(&self) -> Option<slipway_crds::builder::Builder> {
        Some(slipway_crds::builder::Builder {
            image: self.builder_image.clone()?,
            registry: self.build_registry.clone()?,
            insecure: self.build_registry_insecure,
            registry_secret: self.build_registry_secret.clone(),
            service_account: self.build_service_account.clone(),
            deadline_seconds: self.build_timeout,
        })
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    init_logs(flags.log_format);
    if let Err(message) = run(flags).await {
        tracing::error!("{message}");
        eprintln!("slipway-operator: {message}");
        std::process::exit(1);
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

async fn run(flags: Flags) -> Result<(), String> {
    let lease = leader::Lease {
        namespace: &flags.lease_namespace,
        name: &flags.lease_name,
        duration: flags.lease_duration,
        grace: flags.lease_grace,
    };
    if flags.leader_elect {
        lease.check()?;
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let client = metrics::counted_client(metrics.clone())
        .await
        .map_err(|e| format!("cannot reach Kubernetes: {e}"))?;
    let health = http::Health {
        ready: Arc::new(AtomicBool::new(false)),
        metrics: metrics.clone(),
    };
    let server = tokio::spawn(http::serve(
        flags.metrics_addr,
        health.clone(),
        shutdown_signal(),
    ));

    check_crds(&client, flags.namespaces.first().map(String::as_str)).await?;
    // Ready before leadership: a standby replica that never became Ready would stall every
    // rolling update of a Deployment with more than one replica.
    health.ready.store(true, Ordering::Relaxed);
    if flags.leader_elect {
        leader::acquire(&client, &lease, &metrics).await?;
    } else {
        metrics.set_leader(true);
    }
    let ctx = Arc::new(Context::new(client.clone(), metrics, flags.build.builder()));
    let scopes: Vec<Option<String>> = if flags.namespaces.is_empty() {
        vec![None]
    } else {
        flags.namespaces.iter().cloned().map(Some).collect()
    };
    tracing::info!(namespaces = ?flags.namespaces, "Started controllers");
    let controllers = scopes.into_iter().flat_map(|ns| {
        let ns = ns.as_deref();
        let (release_store, writer) = reflector::store();
        let (seen, releases) = futures::channel::mpsc::unbounded();
        let release_watch = app::ReleaseWatch {
            api: scoped(&client, ns),
            writer,
            seen,
        };
        let app_controller = app::run(
            ctx.clone(),
            flags.concurrency,
            scoped(&client, ns),
            release_watch,
            scoped::<Deployment>(&client, ns),
            scoped::<Service>(&client, ns),
            scoped::<Pod>(&client, ns),
        );
        let build_controller = build::run(ctx.clone(), scoped(&client, ns), scoped(&client, ns));
        let envowner_controller = envowner::run(ctx.clone(), release_store, releases);
        [
            Box::pin(app_controller) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
            Box::pin(build_controller),
            Box::pin(envowner_controller),
        ]
    });
    join_all(controllers).await;
    let _ = server.await;
    tracing::info!("Stopped");
    Ok(())
}

/// Fails with instructions when the CRDs are not installed.
async fn check_crds(client: &Client, namespace: Option<&str>) -> Result<(), String> {
    let missing = "the Slipway CRDs are not installed: run `kubectl apply --server-side -f charts/slipway/crds/` or install the Helm chart";
    let probe = ListParams::default().limit(1);
    let results = [
        scoped::<App>(client, namespace)
            .list(&probe)
            .await
            .map(|_| ()),
        scoped::<Build>(client, namespace)
            .list(&probe)
            .await
            .map(|_| ()),
        scoped::<Release>(client, namespace)
            .list(&probe)
            .await
            .map(|_| ()),
    ];
    for result in results {
        match result {
            Ok(()) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Err(missing.to_string()),
            Err(e) => return Err(format!("cannot list Slipway objects: {e}")),
        }
    }
    Ok(())
}

/// An Api over one namespace, or all of them.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Resolves on SIGINT or SIGTERM (what Kubernetes sends), as the controllers do.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(term) => term.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

mod leader {
    //! Leader election on a Lease: wait to hold it, and stop the process if it is lost.

    use kube::Client;
    use kube_lease_manager::{DEFAULT_LEASE_DURATION_SECONDS, LeaseManagerBuilder};

    use crate::metrics::Metrics;

    /// The Lease to hold and its timings, in seconds.
    pub struct Lease<'a> {
        /// Its namespace.
        pub namespace: &'a str,
        /// Its name.
        pub name: &'a str,
        /// How long it lasts without renewal.
        pub duration: u64,
        /// How long before it expires its holder renews it.
        pub grace: u64,
    }

    impl Lease<'_> {
        /// Refuses, in words, timings that kube-lease-manager would panic on.
        pub fn check(&self) -> Result<(), String> {
            if self.grace == 0 || self.grace >= self.duration {
                return Err(format!(
                    "--lease-grace ({}) must be at least 1 and less than --lease-duration ({})",
                    self.grace, self.duration
                ));
            }
            Ok(())
        }
    }

    /// Waits until this process holds the Lease; exits the process when it loses it later.
    pub async fn acquire(
        client: &Client,
        lease: &Lease<'_>,
        metrics: &Metrics,
    ) -> Result<(), String> {
        let (namespace, name) = (lease.namespace, lease.name);
        metrics.set_leader(false);
        let builder = LeaseManagerBuilder::new(client.clone(), name).with_namespace(namespace);
        // Each setter checks against the other's current value: keep grace < duration throughout.
        let builder = if lease.duration >= DEFAULT_LEASE_DURATION_SECONDS {
            builder
                .with_duration(lease.duration)
                .with_grace(lease.grace)
        } else {
            builder
                .with_grace(lease.grace)
                .with_duration(lease.duration)
        };
        let manager = builder
            .build()
            .await
            .map_err(|e| format!("cannot use Lease {namespace}/{name}: {e}"))?;
        let (mut channel, _task) = manager.watch().await;
        tracing::info!(lease = name, "Waiting for leadership");
        while !*channel.borrow_and_update() {
            channel
                .changed()
                .await
                .map_err(|e| format!("leader election stopped: {e}"))?;
        }
        tracing::info!(lease = name, "Became leader");
        metrics.set_leader(true);
        tokio::spawn(async move {
            while channel.changed().await.is_ok() {
                if !*channel.borrow() {
                    tracing::error!("Lost leadership; exiting so another replica takes over");
                    std::process::exit(1);
                }
            }
        });
        Ok(())
    }
}
