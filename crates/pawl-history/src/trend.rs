//! Trends: the points of one case on one testbed in time order, where its level changed, and its
//! figure.

use pawl_core::case::CaseId;
use pawl_core::run::CaseStatus;
use pawl_core::stats::StatsError;
use pawl_core::stats::changepoint::{ChangePoint, ChangePointSettings, change_points};
use pawl_core::value::Params;
use pawl_figures::{Axis, Color, Figure, Mark};
use serde::Serialize;

use crate::store::CasePoint;

/// One case of one suite on one testbed, over time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    pub suite: String,
    pub testbed: String,
    pub case_id: CaseId,
    pub bench: String,
    pub params: Params,
    /// Every recorded point, oldest first, measured or not.
    pub points: Vec<CasePoint>,
    /// Where the level of the measured points changed, oldest first.
    pub changes: Vec<Change>,
}

/// A change point with the runs on either side of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    #[serde(flatten)]
    pub change: ChangePoint,
    /// The first run at the new level.
    pub run_key: String,
    pub started_at: String,
    pub started_us: i64,
    pub commit: Option<String>,
    /// The last run at the old level, and its commit: the change came in between.
    pub previous_run_key: String,
    pub previous_commit: Option<String>,
}

impl Change {
    /// Whether this change made the case slower by more than `tolerance` (0.02 is 2%).
    pub fn is_regression(&self, tolerance: f64) -> bool {
        self.change.rel_change > tolerance
    }
}

impl Trend {
    /// The points that were measured: status ok, with a median. Change indices count these.
    pub fn measured(&self) -> Vec<&CasePoint> {
        self.points.iter().filter(|p| p.status == CaseStatus::Ok && p.median_ns.is_some()).collect()
    }

    /// The trend's figure: each run's median with its interval, the level of each segment between
    /// change points, the change points, and the baseline's level when there is one (`baseline_ns`).
    pub fn figure(&self, baseline_ns: Option<f64>) -> Figure {
        let measured = self.measured();
        let medians: Vec<f64> = measured.iter().filter_map(|p| p.median_ns).collect();
        let unit = Unit::for_values(&medians);
        let x = |i: usize| (i + 1) as f64;
        let mut figure = Figure::new(
            format!("{} · {}", self.case_id, self.testbed),
            Axis::integers("run (oldest to newest)"),
            Axis::new(format!("median ({})", unit.name)),
        );
        figure.marks.push(Mark::Intervals {
            name: None,
            intervals: measured
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((x(i), unit.of(p.ci_low_ns?), unit.of(p.ci_high_ns?))))
                .collect(),
            color: Color::BLUE,
        });
        figure.marks.push(Mark::Points {
            name: Some("median and its interval".into()),
            points: medians.iter().enumerate().map(|(i, &m)| (x(i), unit.of(m))).collect(),
            color: Color::BLUE,
            radius: 2,
        });
        for (i, segment) in self.segments().iter().enumerate() {
            figure.marks.push(Mark::Line {
                name: (i == 0).then(|| "level between changes".to_owned()),
                points: vec![(x(segment.0), unit.of(segment.2)), (x(segment.1 - 1), unit.of(segment.2))],
                color: Color::ORANGE,
                width: 2,
                dashed: false,
            });
        }
        for (i, change) in self.changes.iter().enumerate() {
            figure.marks.push(Mark::VRule {
                name: (i == 0).then(|| "change point".to_owned()),
                x: x(change.change.index) - 0.5,
                color: if change.change.rel_change > 0.0 { Color::RED } else { Color::GREEN },
                dashed: false,
            });
        }
        if let Some(level) = baseline_ns {
            figure.marks.push(Mark::HRule {
                name: Some("baseline".into()),
                y: unit.of(level),
                color: Color::GREY,
                dashed: true,
            });
        }
        figure
    }

    /// The segments between change points as (first index, end index, mean level in ns).
    pub fn segments(&self) -> Vec<(usize, usize, f64)> {
        let n = self.measured().len();
        if n == 0 {
            return Vec::new();
        }
        let mut bounds: Vec<usize> = vec![0];
        bounds.extend(self.changes.iter().map(|c| c.change.index));
        bounds.push(n);
        let mut out = Vec::new();
        for (k, w) in bounds.windows(2).enumerate() {
            // Each segment's level is the one its change point measured: after the previous change,
            // before the next.
            let level = match (k.checked_sub(1).and_then(|j| self.changes.get(j)), self.changes.get(k)) {
                (Some(prev), _) => prev.change.after.point,
                (None, Some(next)) => next.change.before.point,
                (None, None) => {
                    let medians: Vec<f64> = self.measured().iter().filter_map(|p| p.median_ns).collect();
                    medians.iter().sum::<f64>() / medians.len() as f64
                }
            };
            out.push((w[0], w[1], level));
        }
        out
    }
}

/// Groups points (ordered by suite, testbed, case, time, as the store gives them) into trends and
/// finds each one's change points.
pub fn trends(points: Vec<CasePoint>, settings: &ChangePointSettings) -> Result<Vec<Trend>, StatsError> {
    let mut out: Vec<Trend> = Vec::new();
    for point in points {
        let same = out.last().is_some_and(|t: &Trend| {
            t.suite == point.suite && t.testbed == point.testbed && t.case_id == point.case_id
        });
        if !same {
            out.push(Trend {
                suite: point.suite.clone(),
                testbed: point.testbed.clone(),
                case_id: point.case_id.clone(),
                bench: point.bench.clone(),
                params: point.params.clone(),
                points: Vec::new(),
                changes: Vec::new(),
            });
        }
        out.last_mut().expect("pushed above").points.push(point);
    }
    for trend in &mut out {
        let measured = trend.measured();
        let medians: Vec<f64> = measured.iter().filter_map(|p| p.median_ns).collect();
        let found = change_points(&medians, settings)?;
        let changes = found
            .into_iter()
            .map(|change| {
                let (at, before) = (measured[change.index], measured[change.index - 1]);
                Change {
                    run_key: at.run_key.clone(),
                    started_at: at.started_at.clone(),
                    started_us: at.started_us,
                    commit: at.git.as_ref().map(|g| g.commit.clone()),
                    previous_run_key: before.run_key.clone(),
                    previous_commit: before.git.as_ref().map(|g| g.commit.clone()),
                    change,
                }
            })
            .collect();
        trend.changes = changes;
    }
    Ok(out)
}

/// A time unit that keeps a series' numbers readable: ns, µs, ms or s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    pub name: &'static str,
    /// Nanoseconds per unit.
    pub ns: f64,
}

impl Unit {
    /// The largest unit in which the smallest value is still at least 1.
    pub fn for_values(values_ns: &[f64]) -> Unit {
        let smallest =
            values_ns.iter().copied().filter(|v| v.is_finite() && *v > 0.0).fold(f64::INFINITY, f64::min);
        let units = [("s", 1e9), ("ms", 1e6), ("µs", 1e3)];
        units
            .iter()
            .find(|(_, ns)| smallest >= *ns && smallest.is_finite())
            .map_or(Unit { name: "ns", ns: 1.0 }, |&(name, ns)| Unit { name, ns })
    }

    pub fn of(&self, value_ns: f64) -> f64 {
        value_ns / self.ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_numbers_readable() {
        assert_eq!(Unit::for_values(&[12_000.0, 900_000.0]).name, "µs");
        assert_eq!(Unit::for_values(&[500.0]).name, "ns");
        assert_eq!(Unit::for_values(&[2.5e6]).name, "ms");
        assert_eq!(Unit::for_values(&[]).name, "ns");
        assert_eq!(Unit::for_values(&[2_000.0]).of(3_000.0), 3.0);
    }
}
