//! Shards: the selected cases of a suite split over `n` runners (`--shard i/n`), the same way on every
//! runner without any of them talking to another.
//!
//! Every runner plans the whole selection, computes the whole assignment and keeps its own part. The
//! assignment depends only on the case ids, the shard count and the cost estimates, never on the
//! machine, the order of anything in memory or the time:
//!
//! - **without estimates**, a case's shard is a stable hash of its id ([`fnv1a`] through
//!   [`splitmix64`], reduced to `0..n` by the high bits of a 128-bit product, Lemire 2019): a case
//!   keeps its shard when others are added or removed;
//! - **with estimates** (seconds per case, from a previous run or the baseline), cases are placed
//!   longest first, each on the shard with the least estimated work so far (Graham's LPT rule, 1969:
//!   the busiest shard carries at most the average plus one case). Ties are broken by the hashed id,
//!   then the id, and the lowest shard index; the sums are IEEE additions in that fixed order, so every
//!   runner computes the same loads bit for bit.
//!
//! Each shard's run file records a digest of the whole assignment ([`ShardInfo::plan`]): `pawl merge`
//! refuses shards that split different plans (another suite revision, another selection, other
//! estimates), and counts that together they hold every case.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::case::CaseId;
use crate::hash::{fnv1a, splitmix64};

/// Most shards: far more runners than any CI matrix or array job runs at once.
pub const MAX_SHARDS: u32 = 10_000;

/// One shard of `count`, numbered from 1 (`--shard 1/4` … `--shard 4/4`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A shard that cannot be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardError(pub String);

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError(format!("a shard count must be 1 to {MAX_SHARDS}, got {count}")));
        }
        if index == 0 || index > count {
            return Err(ShardError(format!(
                "shard {index}/{count} does not exist: shards are numbered 1 to {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    /// The shard a batch scheduler gave this process, from its environment (`var` looks a variable
    /// up):
    ///
    /// - a Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` (0-based), with the count in
    ///   `PAWL_SHARD_COUNT`, which the Job's template sets to its `completions` (Kubernetes does not
    ///   put the count in the environment);
    /// - a Slurm job array: `SLURM_ARRAY_TASK_ID` counted from `SLURM_ARRAY_TASK_MIN`, the count
    ///   `SLURM_ARRAY_TASK_COUNT`; the array must be a plain range such as `--array=0-7`.
    pub fn from_scheduler(var: &dyn Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        let number = |name: &str| -> Result<Option<u32>, ShardError> {
            match var(name) {
                None => Ok(None),
                Some(text) => text.trim().parse::<u32>().map(Some).map_err(|_| {
                    ShardError(format!("{name} is `{text}`, not a whole number from 0 to {}", u32::MAX))
                }),
            }
        };
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let Some(count) = number("PAWL_SHARD_COUNT")? else {
                return Err(ShardError(
                    "--shard auto in a Kubernetes Indexed Job needs PAWL_SHARD_COUNT: set it in the Job's \
                     template to the Job's `completions`"
                        .to_owned(),
                ));
            };
            return Shard::new(index.saturating_add(1), count)
                .map_err(|e| ShardError(format!("JOB_COMPLETION_INDEX and PAWL_SHARD_COUNT: {e}")));
        }
        if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
            let (Some(min), Some(max), Some(count)) = (
                number("SLURM_ARRAY_TASK_MIN")?,
                number("SLURM_ARRAY_TASK_MAX")?,
                number("SLURM_ARRAY_TASK_COUNT")?,
            ) else {
                return Err(ShardError(
                    "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN, _MAX or _COUNT is not: run pawl \
                     inside an `sbatch --array` job"
                        .to_owned(),
                ));
            };
            if max < min || u64::from(max - min) + 1 != u64::from(count) || task < min || task > max {
                return Err(ShardError(format!(
                    "the Slurm array is not a plain range (tasks {min} to {max}, {count} of them, this one \
                     {task}): give it as --array=0-{}",
                    count.saturating_sub(1)
                )));
            }
            return Shard::new(task - min + 1, count).map_err(|e| ShardError(format!("Slurm array: {e}")));
        }
        Err(ShardError(
            "--shard auto found no batch scheduler: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) \
             nor SLURM_ARRAY_TASK_ID (Slurm array) is set; give the shard as --shard i/n"
                .to_owned(),
        ))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `i/n`, with 1 ≤ i ≤ n.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError(format!("`{text}` is not a shard: write it as i/n, such as 1/4 (1 ≤ i ≤ n)"));
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }
}

/// What a shard's run file records about the split it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardInfo {
    #[serde(flatten)]
    pub shard: Shard,
    /// A digest of the whole assignment (every selected case and its shard): equal on every shard of
    /// one split.
    pub plan: String,
    /// How many cases the whole selection has, over all shards.
    pub plan_cases: usize,
    /// How many of them are this shard's.
    pub cases: usize,
    /// Whether the split was balanced on cost estimates (else by the hash of the ids alone).
    pub balanced: bool,
}

/// The part of a plan one shard measures.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardPlan {
    /// Indices into the plan's cases (in plan order) that this shard measures.
    pub cases: Vec<usize>,
    pub info: ShardInfo,
}

/// Splits the plan's cases (`ids`, in suite order, unique) and keeps `shard`'s part. `costs`, one per
/// case, balances the split (see the module documentation).
pub fn split(ids: &[&CaseId], shard: Shard, costs: Option<&[f64]>) -> ShardPlan {
    let assignment = assign(ids, shard.count, costs);
    let cases: Vec<usize> = (0..ids.len()).filter(|&i| assignment[i] == shard.index).collect();
    let info = ShardInfo {
        shard,
        cases: cases.len(),
        plan: digest(ids, &assignment),
        plan_cases: ids.len(),
        balanced: costs.is_some(),
    };
    ShardPlan { cases, info }
}

/// The shard (1-based) of every case: by estimated cost where `costs` are given (one per id, finite and
/// not negative), else by the hash of the id.
pub fn assign(ids: &[&CaseId], count: u32, costs: Option<&[f64]>) -> Vec<u32> {
    let count = count.max(1);
    let Some(costs) = costs.filter(|c| c.len() == ids.len()) else {
        return ids.iter().map(|id| 1 + reduce(key(id), count)).collect();
    };
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| {
        costs[b]
            .total_cmp(&costs[a])
            .then_with(|| key(ids[a]).cmp(&key(ids[b])))
            .then_with(|| ids[a].cmp(ids[b]))
    });
    let mut loads = vec![0.0f64; count as usize];
    let mut shards = vec![0; ids.len()];
    for i in order {
        // The least loaded shard; the first of equals.
        let mut lightest = 0;
        for (s, load) in loads.iter().enumerate() {
            if *load < loads[lightest] {
                lightest = s;
            }
        }
        loads[lightest] += costs[i];
        shards[i] = lightest as u32 + 1;
    }
    shards
}

/// The hashed id: well mixed in every bit.
fn key(id: &CaseId) -> u64 {
    splitmix64(fnv1a(id.as_str()))
}

/// `hash` reduced to `0..count` by its high bits (Lemire 2019, "Fast random integer generation in an
/// interval"), without the bias of the low bits a modulo would take.
fn reduce(hash: u64, count: u32) -> u32 {
    ((u128::from(hash) * u128::from(count)) >> 64) as u32
}

/// A digest of an assignment: FNV-1a over `id\tshard\n` for every case in plan order, in hex.
fn digest(ids: &[&CaseId], shards: &[u32]) -> String {
    let text: String = ids.iter().zip(shards).map(|(id, shard)| format!("{id}\t{shard}\n")).collect();
    format!("{:016x}", fnv1a(&text))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn ids(n: usize) -> Vec<CaseId> {
        (0..n).map(|i| CaseId::from_raw(format!("copy/N={}", 1024 * (i + 1)))).collect()
    }

    #[test]
    fn shards_parse_as_i_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(" 1 / 1 ".parse::<Shard>(), Ok(Shard { index: 1, count: 1 }));
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "-1/4", "1/4/2", "", "1/10001"] {
            let err = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains("shard"), "{bad}: {err}");
        }
        assert!("0/4".parse::<Shard>().unwrap_err().to_string().contains("numbered 1 to 4"));
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn schedulers_give_the_shard() {
        let k8s = vars(&[("JOB_COMPLETION_INDEX", "0"), ("PAWL_SHARD_COUNT", "4")]);
        assert_eq!(Shard::from_scheduler(&k8s), Ok(Shard { index: 1, count: 4 }));
        let k8s = vars(&[("JOB_COMPLETION_INDEX", "3"), ("PAWL_SHARD_COUNT", "4")]);
        assert_eq!(Shard::from_scheduler(&k8s), Ok(Shard { index: 4, count: 4 }));
        let err = Shard::from_scheduler(&vars(&[("JOB_COMPLETION_INDEX", "1")])).unwrap_err().0;
        assert!(err.contains("PAWL_SHARD_COUNT") && err.contains("completions"), "{err}");
        let err = Shard::from_scheduler(&vars(&[("JOB_COMPLETION_INDEX", "4"), ("PAWL_SHARD_COUNT", "4")]))
            .unwrap_err()
            .0;
        assert!(err.contains("5/4"), "{err}");
        let err = Shard::from_scheduler(&vars(&[("JOB_COMPLETION_INDEX", "x")])).unwrap_err().0;
        assert!(err.contains("`x`"), "{err}");

        let slurm = |id: &str, min: &str, max: &str, count: &str| {
            Shard::from_scheduler(&vars(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_MAX", max),
                ("SLURM_ARRAY_TASK_COUNT", count),
            ]))
        };
        assert_eq!(slurm("0", "0", "7", "8"), Ok(Shard { index: 1, count: 8 }));
        assert_eq!(slurm("4", "1", "4", "4"), Ok(Shard { index: 4, count: 4 }));
        let err = slurm("4", "0", "12", "4").unwrap_err().0;
        assert!(err.contains("plain range") && err.contains("--array=0-3"), "{err}");
        let err = Shard::from_scheduler(&vars(&[("SLURM_ARRAY_TASK_ID", "1")])).unwrap_err().0;
        assert!(err.contains("SLURM_ARRAY_TASK_MIN, _MAX or _COUNT"), "{err}");

        let err = Shard::from_scheduler(&vars(&[])).unwrap_err().0;
        assert!(err.contains("--shard i/n"), "{err}");
    }

    #[test]
    fn hashed_shards_are_balanced_even_for_ids_that_differ_in_one_digit() {
        // The raw FNV-1a's lowest bit is the parity of the bytes' lowest bits: taken modulo 2 it would put
        // ids like these on one shard far more often than on the other.
        let ids = ids(1000);
        let refs: Vec<&CaseId> = ids.iter().collect();
        for count in [2, 3, 4, 8] {
            let shards = assign(&refs, count, None);
            let expected = 1000.0 / f64::from(count);
            for s in 1..=count {
                let n = shards.iter().filter(|&&x| x == s).count() as f64;
                // Binomial: within five standard deviations of the mean.
                let sd = (expected * (1.0 - 1.0 / f64::from(count))).sqrt();
                assert!((n - expected).abs() < 5.0 * sd, "{count} shards: shard {s} has {n}");
            }
        }
    }

    #[test]
    fn a_case_keeps_its_hashed_shard_when_others_come_and_go() {
        let all = ids(50);
        let refs: Vec<&CaseId> = all.iter().collect();
        let before = assign(&refs, 4, None);
        let fewer: Vec<&CaseId> = all.iter().step_by(3).collect();
        let after = assign(&fewer, 4, None);
        for (k, id) in fewer.iter().enumerate() {
            let i = all.iter().position(|x| x == *id).unwrap();
            assert_eq!(before[i], after[k], "{id}");
        }
    }

    #[test]
    fn the_digest_tells_splits_apart() {
        let ids = ids(10);
        let refs: Vec<&CaseId> = ids.iter().collect();
        let plain = split(&refs, Shard { index: 1, count: 3 }, None);
        let again = split(&refs, Shard { index: 2, count: 3 }, None);
        assert_eq!(plain.info.plan, again.info.plan, "every shard of one split has one digest");
        assert_eq!(plain.info.plan_cases, 10);
        let costs: Vec<f64> = (0..10).map(f64::from).collect();
        let balanced = split(&refs, Shard { index: 1, count: 3 }, Some(&costs));
        assert!(balanced.info.balanced && !plain.info.balanced);
        assert_ne!(plain.info.plan, balanced.info.plan);
        let other = split(&refs[1..], Shard { index: 1, count: 3 }, None);
        assert_ne!(plain.info.plan, other.info.plan, "another selection, another digest");
    }

    /// Unique ids from random strings.
    fn unique_ids() -> impl Strategy<Value = Vec<CaseId>> {
        proptest::collection::btree_set("[a-z]{1,6}(/[A-Z]=[0-9]{1,5}(,[a-z]=[a-z0-9]{1,4})?)?", 0..80)
            .prop_map(|set| set.into_iter().map(CaseId::from_raw).collect())
    }

    proptest! {
        #[test]
        fn shards_are_disjoint_cover_the_plan_and_agree_on_every_runner(
            ids in unique_ids(),
            count in 1u32..12,
            seed in any::<u64>(),
            with_costs in any::<bool>(),
        ) {
            let refs: Vec<&CaseId> = ids.iter().collect();
            let costs: Vec<f64> =
                (0..ids.len()).map(|i| (splitmix64(seed ^ i as u64) % 10_000) as f64 / 100.0).collect();
            let costs = with_costs.then_some(costs.as_slice());
            // Every runner computes every shard's part on its own.
            let parts: Vec<ShardPlan> =
                (1..=count).map(|i| split(&refs, Shard { index: i, count }, costs)).collect();
            let mut seen = vec![0; ids.len()];
            for part in &parts {
                prop_assert_eq!(&part.info.plan, &parts[0].info.plan);
                for &i in &part.cases {
                    seen[i] += 1;
                }
                prop_assert!(part.cases.windows(2).all(|w| w[0] < w[1]), "in plan order");
            }
            prop_assert!(seen.iter().all(|&n| n == 1), "every case in exactly one shard: {:?}", seen);

            // The order the ids come in changes nothing about where each goes.
            let mut reversed = refs.clone();
            reversed.reverse();
            let reversed_costs: Option<Vec<f64>> = costs.map(|c| c.iter().rev().copied().collect());
            let forward = assign(&refs, count, costs);
            let backward = assign(&reversed, count, reversed_costs.as_deref());
            for (k, id) in reversed.iter().enumerate() {
                let i = refs.iter().position(|x| x == id).unwrap();
                prop_assert_eq!(forward[i], backward[k], "{}", id);
            }

            // Balanced: the busiest shard carries at most the average plus the largest case.
            if let Some(costs) = costs {
                let mut loads = vec![0.0; count as usize];
                for (i, s) in forward.iter().enumerate() {
                    loads[*s as usize - 1] += costs[i];
                }
                let total: f64 = costs.iter().sum();
                let largest = costs.iter().copied().fold(0.0, f64::max);
                let busiest = loads.iter().copied().fold(0.0, f64::max);
                prop_assert!(busiest <= total / f64::from(count) + largest + 1e-9, "{:?}", loads);
            }
        }
    }
}
