//! Summaries of samples: median, p99, quartiles and extremes.

use std::fmt;
use std::time::Duration;

/// The spread of a set of samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// Smallest.
    pub min: f64,
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub p50: f64,
    /// Third quartile.
    pub q3: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples`; all zero when there are none.
    pub fn of(samples: &[f64]) -> Summary {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Summary::default();
        }
        Summary {
            n: sorted.len(),
            min: sorted[0],
            q1: percentile(&sorted, 25.0),
            p50: percentile(&sorted, 50.0),
            q3: percentile(&sorted, 75.0),
            p99: percentile(&sorted, 99.0),
            max: sorted[sorted.len() - 1],
        }
    }

    /// Summarises durations in milliseconds.
    pub fn of_ms(samples: &[Duration]) -> Summary {
        Summary::of(&samples.iter().map(ms).collect::<Vec<_>>())
    }
}

/// A duration in milliseconds.
pub fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Linear interpolation between closest ranks, over sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

/// A number with as many decimals as its size deserves.
pub struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.abs() >= 100.0 {
            write!(f, "{v:.0}")
        } else if v.abs() >= 10.0 {
            write!(f, "{v:.1}")
        } else {
            write!(f, "{v:.2}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_with_interpolated_percentiles() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(
            (s.n, s.min, s.q1, s.p50, s.q3, s.max),
            (5, 1.0, 2.0, 3.0, 4.0, 5.0)
        );
        assert!((s.p99 - 4.96).abs() < 1e-9);
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn prints_numbers_with_sensible_decimals() {
        assert_eq!(Num(1234.4).to_string(), "1234");
        assert_eq!(Num(12.345).to_string(), "12.3");
        assert_eq!(Num(1.2345).to_string(), "1.23");
    }
}
