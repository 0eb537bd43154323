//! Accuracy of pawl's change-point detection on synthetic series with known steps, as docs/history.md
//! reports it:
//!
//! ```sh
//! cargo run --release -p pawl-core --example changepoint_accuracy
//! ```
//!
//! Every series is one case's run medians: a level of 100 µs with relative noise, seeded, so the table
//! is the same on every machine. A step is *found* when a change point lies within 3 runs of it; every
//! other change point is a false change. Options: `--series N` per scenario (default 500).

use pawl_core::stats::changepoint::{ChangePointSettings, change_points};
use pawl_core::stats::normal;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How near a change point must be to the true step to count as finding it.
const NEAR: usize = 3;

#[derive(Clone, Copy)]
enum Noise {
    Gaussian(f64),
    /// Student's t with 3 degrees of freedom, scaled to the same standard deviation: heavy tails.
    HeavyTailed(f64),
}

#[derive(Clone, Copy)]
enum Shape {
    Flat,
    /// A step of this relative size at a random run between 20% and 80% of the series.
    Step(f64),
    /// A run this many times slower, each run with probability `rate`.
    Spikes {
        factor: f64,
        rate: f64,
    },
    /// From run `start` on, the level grows by `per_run` (relative) every run.
    Drift {
        start: usize,
        per_run: f64,
    },
}

struct Scenario {
    name: &'static str,
    runs: usize,
    noise: Noise,
    shape: Shape,
}

fn main() {
    let series: usize = std::env::args()
        .skip_while(|a| a != "--series")
        .nth(1)
        .map(|n| n.parse().expect("--series takes a number"))
        .unwrap_or(500);
    let settings = ChangePointSettings::default();
    let g = Noise::Gaussian;
    let scenarios = [
        Scenario { name: "no step, 0.5% noise", runs: 200, noise: g(0.005), shape: Shape::Flat },
        Scenario { name: "no step, 1% noise", runs: 200, noise: g(0.01), shape: Shape::Flat },
        Scenario { name: "no step, 2% noise", runs: 200, noise: g(0.02), shape: Shape::Flat },
        Scenario { name: "no step, 5% noise", runs: 200, noise: g(0.05), shape: Shape::Flat },
        Scenario {
            name: "no step, 2% heavy-tailed noise (t₃)",
            runs: 200,
            noise: Noise::HeavyTailed(0.02),
            shape: Shape::Flat,
        },
        Scenario {
            name: "single spikes (+30%, 2% of runs), 1% noise",
            runs: 200,
            noise: g(0.01),
            shape: Shape::Spikes { factor: 1.3, rate: 0.02 },
        },
        Scenario { name: "2% step, 0.5% noise", runs: 100, noise: g(0.005), shape: Shape::Step(0.02) },
        Scenario { name: "5% step, 1% noise", runs: 100, noise: g(0.01), shape: Shape::Step(0.05) },
        Scenario { name: "**5% step, 2% noise**", runs: 100, noise: g(0.02), shape: Shape::Step(0.05) },
        Scenario { name: "5% step, 5% noise", runs: 100, noise: g(0.05), shape: Shape::Step(0.05) },
        Scenario { name: "10% step, 5% noise", runs: 100, noise: g(0.05), shape: Shape::Step(0.10) },
        Scenario {
            name: "slow drift (+0.25%/run from run 50), 1% noise",
            runs: 150,
            noise: g(0.01),
            shape: Shape::Drift { start: 50, per_run: 0.0025 },
        },
    ];
    println!(
        "settings: window {}, p ≤ {}, min magnitude {}, min segment {} runs; {series} series per row; found = a \
         change point within {NEAR} runs of the step\n",
        settings.window, settings.max_p_value, settings.min_magnitude, settings.min_segment
    );
    println!("| series | runs each | steps found | false changes per 100 runs |");
    println!("|---|---:|---:|---:|");
    for (index, scenario) in scenarios.iter().enumerate() {
        let mut found = 0usize;
        let mut false_changes = 0usize;
        let mut drift_first = Vec::new();
        for s in 0..series {
            let mut rng = ChaCha8Rng::seed_from_u64(((index as u64) << 32) | s as u64);
            let (values, step) = generate(scenario, &mut rng);
            let points: Vec<usize> = change_points(&values, &settings)
                .expect("synthetic series are valid")
                .iter()
                .map(|c| c.index)
                .collect();
            match (scenario.shape, step) {
                (Shape::Drift { start, .. }, _) => {
                    if let Some(first) = points.iter().find(|&&p| p >= start.saturating_sub(NEAR)) {
                        drift_first.push(first.saturating_sub(start));
                    }
                    false_changes += points.iter().filter(|&&p| p + NEAR < start).count();
                }
                (_, Some(step)) => {
                    let near = |p: &&usize| p.abs_diff(step) <= NEAR;
                    if points.iter().any(|p| near(&p)) {
                        found += 1;
                    }
                    false_changes += points.iter().filter(|p| !near(p)).count();
                }
                (_, None) => false_changes += points.len(),
            }
        }
        let per_100 = false_changes as f64 * 100.0 / (series * scenario.runs) as f64;
        let found_cell = match scenario.shape {
            Shape::Step(_) => format!("{:.1}%", found as f64 * 100.0 / series as f64),
            Shape::Drift { per_run, .. } => {
                drift_first.sort_unstable();
                let median = drift_first.get(drift_first.len() / 2).copied().unwrap_or(0);
                format!(
                    "changed in {:.1}% of series; first change a median {median} runs in (drift {:.1}%)",
                    drift_first.len() as f64 * 100.0 / series as f64,
                    median as f64 * per_run * 100.0
                )
            }
            _ => "—".to_owned(),
        };
        println!("| {} | {} | {found_cell} | {per_100:.2} |", scenario.name, scenario.runs);
    }
}

/// One series and the index of its step, if it has one.
fn generate(scenario: &Scenario, rng: &mut ChaCha8Rng) -> (Vec<f64>, Option<usize>) {
    const LEVEL: f64 = 100_000.0;
    let n = scenario.runs;
    let step = match scenario.shape {
        Shape::Step(_) => Some(n / 5 + (rng.random::<f64>() * (3 * n / 5) as f64) as usize),
        _ => None,
    };
    let values = (0..n)
        .map(|i| {
            let level = match scenario.shape {
                Shape::Flat => LEVEL,
                Shape::Step(size) => LEVEL * if Some(i) >= step { 1.0 + size } else { 1.0 },
                Shape::Spikes { factor, rate } => {
                    LEVEL * if rng.random::<f64>() < rate { factor } else { 1.0 }
                }
                Shape::Drift { start, per_run } => LEVEL * (1.0 + per_run * i.saturating_sub(start) as f64),
            };
            level * (1.0 + noise(scenario.noise, rng)).max(0.01)
        })
        .collect();
    (values, step)
}

fn noise(noise: Noise, rng: &mut ChaCha8Rng) -> f64 {
    let mut z = || normal::quantile(rng.random::<f64>().clamp(1e-12, 1.0 - 1e-12));
    match noise {
        Noise::Gaussian(sd) => sd * z(),
        Noise::HeavyTailed(sd) => {
            // t₃ = Z / √(χ²₃ / 3), whose variance is 3: scale by 1/√3 for a standard deviation of `sd`.
            let top = z();
            let chi2: f64 = (0..3).map(|_| z().powi(2)).sum();
            sd * top / (chi2 / 3.0).sqrt() / 3f64.sqrt()
        }
    }
}
