//! One module per command group; each command is a plain function over a context and a Term.

pub mod apps;
pub mod builds;
pub mod env;
pub mod logs;
#[cfg(test)]
pub mod mockapi;
pub mod ps;
pub mod releases;
pub mod run;
pub mod scale;
