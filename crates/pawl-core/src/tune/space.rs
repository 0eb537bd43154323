//! The tune space of one case: every configuration of a bench's tune parameters (the cartesian product
//! of their candidates) that meets the bench's `constraints`, with the default's place in it and the
//! neighbourhood structure the search walks.
//!
//! Each parameter's candidates are put in order — numbers ascending, other values as listed — so that
//! one step along an axis is one step of a tile size or a stage count. Two configurations are
//! neighbours when they differ in one parameter only, by the nearest value along that axis that gives
//! a configuration in the space (a constraint may leave gaps).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::suite::Bench;
use crate::value::{Params, Value};

/// The most configurations a space may enumerate; a larger product of candidates is refused.
pub const MAX_CONFIGS: usize = 100_000;

/// A tune parameter and its candidates, in axis order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    pub name: String,
    pub values: Vec<Value>,
}

/// A configuration a constraint could not be evaluated for: it is left out, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invalid {
    pub tune: Params,
    pub reason: String,
}

/// Why a case has no space to search.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpaceError {
    #[error(
        "bench `{bench}`: its tune candidates multiply to {count} configurations; pawl searches at most \
         {MAX_CONFIGS}: list fewer candidates or add constraints"
    )]
    TooLarge { bench: String, count: u128 },
    #[error("case `{case}`: the default configuration ({default}) is not in the tune space: {why}")]
    DefaultOutside { case: String, default: String, why: String },
}

/// The configurations of one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "SpaceData")]
pub struct Space {
    pub axes: Vec<Axis>,
    /// Every configuration that meets the constraints, as tune values in the suite's order.
    pub configs: Vec<Params>,
    /// The index of the default configuration in `configs`.
    pub default: usize,
    /// Configurations the constraints rule out.
    pub excluded: usize,
    /// Configurations a constraint could not be evaluated for.
    pub invalid: Vec<Invalid>,
    #[serde(skip)]
    coords: Vec<Vec<usize>>,
    #[serde(skip)]
    index: HashMap<Vec<usize>, usize>,
}

impl Space {
    /// The space of `case` of `bench`, around its default configuration `default`.
    pub fn new(bench: &Bench, case: &Case, default: &Params) -> Result<Space, SpaceError> {
        let axes: Vec<Axis> = bench
            .tune
            .iter()
            .map(|t| Axis { name: t.name.clone(), values: ordered(&t.candidates) })
            .collect();
        let count = axes.iter().map(|a| a.values.len() as u128).product::<u128>();
        if count > MAX_CONFIGS as u128 {
            return Err(SpaceError::TooLarge { bench: bench.name.clone(), count });
        }
        let mut configs = Vec::new();
        let (mut excluded, mut invalid) = (0, Vec::new());
        for coords in product(&axes) {
            let tune: Params =
                axes.iter().zip(&coords).map(|(a, &i)| (a.name.clone(), a.values[i].clone())).collect();
            let mut vars = case.params.clone();
            for (name, value) in tune.iter() {
                vars.insert(name, value.clone());
            }
            let verdict: Result<bool, String> = bench
                .constraints
                .iter()
                .try_fold(true, |ok, c| Ok(ok && c.eval_bool(&vars).map_err(|e| format!("constraint {e}"))?));
            match verdict {
                Ok(true) => configs.push(tune),
                Ok(false) => excluded += 1,
                Err(reason) => invalid.push(Invalid { tune, reason }),
            }
        }
        let Some(default) = configs.iter().position(|c| c == default) else {
            let why = invalid
                .iter()
                .find(|i| &i.tune == default)
                .map_or("it does not meet the constraints".to_owned(), |i| i.reason.clone());
            return Err(SpaceError::DefaultOutside {
                case: case.id.to_string(),
                default: default.to_id_string(),
                why,
            });
        };
        Ok(Space::from_parts(axes, configs, default, excluded, invalid))
    }

    /// A space from its parts (as a recording holds them); configurations whose values are not on the
    /// axes are dropped from the neighbourhood structure but kept.
    pub fn from_parts(
        axes: Vec<Axis>,
        configs: Vec<Params>,
        default: usize,
        excluded: usize,
        invalid: Vec<Invalid>,
    ) -> Space {
        let coords: Vec<Vec<usize>> = configs
            .iter()
            .map(|tune| {
                axes.iter()
                    .map(|a| {
                        let value = tune.get(&a.name);
                        a.values.iter().position(|v| Some(v) == value).unwrap_or(usize::MAX)
                    })
                    .collect()
            })
            .collect();
        let index = coords.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        Space { axes, configs, default, excluded, invalid, coords, index }
    }

    pub fn len(&self) -> usize {
        self.configs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }

    /// The configuration with these tune values, if it is in the space.
    pub fn find(&self, tune: &Params) -> Option<usize> {
        self.configs.iter().position(|c| c == tune)
    }

    /// The neighbours of configuration `i`: along each axis, the nearest configuration below and above
    /// that differs from `i` in that parameter only.
    pub fn neighbours(&self, i: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let here = &self.coords[i];
        for (axis, a) in self.axes.iter().enumerate() {
            let at = here[axis];
            if at == usize::MAX {
                continue;
            }
            let mut step = |values: &mut dyn Iterator<Item = usize>| {
                for v in values {
                    let mut there = here.clone();
                    there[axis] = v;
                    if let Some(&j) = self.index.get(&there) {
                        found.push(j);
                        return;
                    }
                }
            };
            step(&mut (0..at).rev());
            step(&mut (at + 1..a.values.len()));
        }
        found
    }

    /// How far apart two configurations are: the sum over axes of the steps between them, each axis
    /// scaled to 1 from its first value to its last.
    pub fn distance(&self, i: usize, j: usize) -> f64 {
        self.axes
            .iter()
            .zip(self.coords[i].iter().zip(&self.coords[j]))
            .filter(|(a, _)| a.values.len() > 1)
            .map(|(a, (&x, &y))| {
                if x == usize::MAX || y == usize::MAX {
                    return 1.0;
                }
                x.abs_diff(y) as f64 / (a.values.len() - 1) as f64
            })
            .sum()
    }

    /// How many parameters configuration `i` changes from the default.
    pub fn changes(&self, i: usize) -> usize {
        let (a, b) = (&self.configs[i], &self.configs[self.default]);
        a.iter().filter(|(name, value)| b.get(name) != Some(value)).count()
    }
}

/// A space as written in a file; reading one rebuilds its lookup tables.
#[derive(Deserialize)]
struct SpaceData {
    axes: Vec<Axis>,
    configs: Vec<Params>,
    default: usize,
    #[serde(default)]
    excluded: usize,
    #[serde(default)]
    invalid: Vec<Invalid>,
}

impl From<SpaceData> for Space {
    fn from(d: SpaceData) -> Space {
        Space::from_parts(d.axes, d.configs, d.default, d.excluded, d.invalid)
    }
}

/// Candidates in axis order: numbers ascending when every candidate is a number, else as listed.
fn ordered(values: &[Value]) -> Vec<Value> {
    let mut values = values.to_vec();
    if values.iter().all(|v| matches!(v, Value::Int(_) | Value::Float(_))) {
        values.sort_by(|a, b| a.as_f64().unwrap_or(0.0).total_cmp(&b.as_f64().unwrap_or(0.0)));
    }
    values
}

/// Every combination of axis indices, the first axis varying slowest.
fn product(axes: &[Axis]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    (0..total).map(move |mut k| {
        let mut coords = vec![0; axes.len()];
        for (axis, a) in axes.iter().enumerate().rev() {
            coords[axis] = k % a.values.len();
            k /= a.values.len();
        }
        coords
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Suite;

    fn suite(constraints: &str) -> Suite {
        let text = format!(
            r#"
[suite]
name = "t"
[[bench]]
name = "k"
kind = "command"
params = {{ N = [64] }}
run = ["true"]
constraints = {constraints}
[bench.tune]
M = {{ default = 32, candidates = [64, 16, 32] }}
W = {{ default = 2, candidates = [1, 2, 4] }}
LAYOUT = "row"
"#
        );
        Suite::from_str(&text, std::path::Path::new("t.toml")).unwrap()
    }

    fn space(constraints: &str) -> Space {
        let suite = suite(constraints);
        let bench = &suite.benches[0];
        let case = bench.cases().unwrap().remove(0);
        let default = crate::plan::default_tune(bench, &case).unwrap();
        Space::new(bench, &case, &default).unwrap()
    }

    fn id(space: &Space, i: usize) -> String {
        space.configs[i].to_id_string()
    }

    #[test]
    fn the_space_is_the_product_that_meets_the_constraints() {
        let s = space("[\"M * W <= 64\"]");
        assert_eq!(s.axes[0].values, [Value::Int(16), Value::Int(32), Value::Int(64)], "numbers ascend");
        assert_eq!(s.len(), 6);
        assert_eq!(s.excluded, 3);
        assert_eq!(id(&s, s.default), "M=32,W=2,LAYOUT=row");
        assert_eq!(s.changes(s.default), 0);
        let all: Vec<String> = (0..s.len()).map(|i| id(&s, i)).collect();
        assert!(!all.contains(&"M=64,W=2,LAYOUT=row".to_owned()));
    }

    #[test]
    fn neighbours_step_one_axis_and_skip_gaps() {
        let s = space("[\"!(M == 32 && W == 4)\"]");
        let at = |t: &str| (0..s.len()).find(|&i| id(&s, i) == t).unwrap();
        let mut n: Vec<String> = s.neighbours(at("M=16,W=4,LAYOUT=row")).iter().map(|&j| id(&s, j)).collect();
        n.sort();
        // Along M, 32 is ruled out at W=4: the step goes on to 64.
        assert_eq!(n, ["M=16,W=2,LAYOUT=row", "M=64,W=4,LAYOUT=row"]);
        assert_eq!(s.distance(at("M=16,W=1,LAYOUT=row"), at("M=64,W=4,LAYOUT=row")), 2.0);
        assert_eq!(s.changes(at("M=64,W=4,LAYOUT=row")), 2);
    }

    #[test]
    fn a_constraint_that_fails_to_evaluate_leaves_the_configuration_out_with_the_reason() {
        let s = space("[\"64 / (W - 1) > 0\"]");
        assert_eq!(s.invalid.len(), 3, "W = 1 divides by zero, for every M");
        assert!(s.invalid[0].reason.contains("64 / (W - 1)"), "{}", s.invalid[0].reason);
    }

    #[test]
    fn a_default_outside_the_space_and_a_huge_space_are_errors() {
        let suite = suite("[\"W != 2\"]");
        let bench = &suite.benches[0];
        let case = bench.cases().unwrap().remove(0);
        let default = crate::plan::default_tune(bench, &case);
        // Planning the default already refuses it; the space says so too.
        assert!(default.is_ok());
        let err = Space::new(bench, &case, &default.unwrap()).unwrap_err().to_string();
        assert!(err.contains("M=32,W=2,LAYOUT=row") && err.contains("constraints"), "{err}");

        let mut big = bench.clone();
        for t in &mut big.tune {
            t.candidates = (0..100).map(Value::Int).collect();
        }
        let err = Space::new(&big, &case, &Params::new()).unwrap_err().to_string();
        assert!(err.contains("1000000 configurations"), "{err}");
    }

    #[test]
    fn a_space_survives_serialization() {
        let s = space("[\"M * W <= 64\"]");
        let back: Space = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.neighbours(back.default), s.neighbours(s.default));
    }
}
