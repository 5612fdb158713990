//! Kill moments chosen at random from a seed, beside the twenty fixed ones: what to ask, when to
//! kill (a number of reconciles, or a delay after the promotion) and what happens while the
//! operator is down. The seed is printed with the report; `SLIPWAY_SEED=<seed>` replays a run.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::moments::{Action, KillAt, Moment, WhileDown};

/// Environment variable that replays the random moments of an earlier run.
pub const SEED_VAR: &str = "SLIPWAY_SEED";

/// The seed of this run: `SLIPWAY_SEED` when set, else a new one, printed so it can be replayed.
pub fn seed() -> u64 {
    let seed = match std::env::var(SEED_VAR) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={text:?} is not a number")),
        _ => rand::rng().random(),
    };
    eprintln!("random kill moments: {SEED_VAR}={seed} replays them");
    seed
}

/// `count` moments drawn from `seed`: the same seed gives the same moments.
pub fn moments(seed: u64, count: usize) -> Vec<Moment> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let action = [
                Action::Promote,
                Action::RemoveService,
                Action::AddService,
                Action::Rollback,
                Action::NeverReady,
                Action::CrashLoop,
            ][rng.random_range(0..6)];
            let kill = if rng.random_bool(0.5) {
                KillAt::Reconciles(rng.random_range(0..8))
            } else {
                KillAt::After(Duration::from_millis(rng.random_range(0..4000)))
            };
            let down = match rng.random_range(0..3) {
                0 => WhileDown::KillAgain(rng.random_range(1..4)),
                // Another promotion while down is a case of promotions only: the automatic
                // rollbacks and the rollback copy expect their own end.
                1 if matches!(action, Action::Promote) => WhileDown::PromoteAnother,
                _ => WhileDown::Nothing,
            };
            let kill_text = match kill {
                KillAt::Reconciles(n) => format!("after {n} reconciles"),
                KillAt::After(wait) => format!("{} ms after the promotion", wait.as_millis()),
                _ => unreachable!("only these two are drawn"),
            };
            let down_text = match down {
                WhileDown::Nothing => String::new(),
                WhileDown::PromoteAnother => ", another release promoted while down".into(),
                WhileDown::KillAgain(n) => format!(", and again after {n} reconciles"),
            };
            Moment {
                name: format!("random: {action:?} killed {kill_text}{down_text}"),
                action,
                kill,
                down,
            }
        })
        .collect()
}

#[test]
fn a_seed_gives_the_same_moments_again() {
    let names = |seed| -> Vec<String> { moments(seed, 8).into_iter().map(|m| m.name).collect() };
    assert_eq!(names(42), names(42));
    assert_ne!(names(42), names(43));
}
