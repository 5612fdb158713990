//! Cluster test helpers for the project's own control plane (tests/testenv).
//!
//! Everything here needs a running control plane, so it compiles only with the
//! `cluster` feature: `tests/testenv/testenv up`, then
//! `cargo test -p slipway-tests --features cluster`.

#[cfg(feature = "cluster")]
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "cluster")]
pub mod helm;
#[cfg(feature = "cluster")]
pub mod identity;
#[cfg(feature = "cluster")]
pub mod operator;
#[cfg(feature = "cluster")]
pub mod realnode;
#[cfg(feature = "cluster")]
pub mod reliability;
#[cfg(feature = "cluster")]
pub mod slipway;

#[cfg(feature = "cluster")]
pub use cluster::*;
