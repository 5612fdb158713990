//! One module per command group; each command is a plain function over a context and a Term.

pub mod apps;
pub mod builds;
pub mod env;
pub mod logs;
pub mod ps;
pub mod releases;
pub mod run;
pub mod scale;
