//! Joining run files into one run (`pawl merge`): the shards of a suite measured on several runners,
//! or parts of a suite measured apart (`--bench a` here, `--bench b` there).
//!
//! A merged run must be a run that could have been measured at once, so merging refuses, naming the
//! files: runs of different suites, testbeds (GPU model, driver major, CUDA major), measuring settings
//! or commits; a case in two files; and, for shards, shards of different splits, a shard given twice
//! or missing, or shards that together hold fewer cases than their plan (one was cut short). Shards'
//! cases go back into suite order; other runs' cases keep the order of the files. Each case keeps the
//! GPU it ran on, and the run lists its parts (host, time, shard, machine seconds).

use std::collections::{BTreeMap, BTreeSet};

use crate::baseline::Testbed;
use crate::case::CaseId;
use crate::run::{Run, RunPart};
use crate::shard::ShardInfo;

/// Why runs cannot be merged, naming the files.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

/// Merges `runs` (each with the name of its file, for messages and the run's parts). Nothing is
/// merged unless everything can be.
pub fn merge(mut runs: Vec<(String, Run)>) -> Result<Run, MergeError> {
    let Some((first_file, first)) = runs.first() else {
        return Err(MergeError("no run files to merge".to_owned()));
    };
    let first_testbed = Testbed::from_env(&first.env);
    for (file, run) in &runs[1..] {
        if run.suite != first.suite {
            return Err(MergeError(format!(
                "{first_file} is a run of suite `{}` and {file} of suite `{}`: only runs of one suite merge",
                first.suite, run.suite
            )));
        }
        let testbed = Testbed::from_env(&run.env);
        if testbed != first_testbed {
            return Err(MergeError(format!(
                "{first_file} was measured on `{first_testbed}` and {file} on `{testbed}` ({}): timings from \
                 different testbeds never make one run",
                first_testbed.differences(&testbed).join(", ")
            )));
        }
        if run.settings != first.settings {
            return Err(MergeError(format!(
                "{first_file} and {file} were measured with different settings ({}): measure every part \
                 with the same suite and flags",
                settings_differences(first, run)
            )));
        }
        let commit = |run: &Run| run.git.as_ref().map(|g| g.commit.clone());
        if commit(run) != commit(first) {
            let shown = |c: Option<String>| c.map_or("no commit".to_owned(), |c| format!("commit {c}"));
            return Err(MergeError(format!(
                "{first_file} records {} and {file} {}: only runs of the same code merge",
                shown(commit(first)),
                shown(commit(run))
            )));
        }
    }
    let sharded = runs.iter().filter(|(_, run)| run.shard.is_some()).count();
    if sharded > 0 {
        if sharded < runs.len() {
            let (with, _) = runs.iter().find(|(_, r)| r.shard.is_some()).expect("one is a shard");
            let (without, _) = runs.iter().find(|(_, r)| r.shard.is_none()).expect("one is not");
            return Err(MergeError(format!(
                "{with} is a shard (--shard) and {without} is not: merge the shards of one split, or runs \
                 measured without --shard"
            )));
        }
        check_shards(&runs)?;
        runs.sort_by_key(|(_, run)| run.shard.as_ref().map(|s| s.shard.index));
    }

    let mut owner: BTreeMap<CaseId, &str> = BTreeMap::new();
    for (file, run) in &runs {
        for case in &run.cases {
            if let Some(other) = owner.insert(case.id.clone(), file) {
                return Err(MergeError(format!(
                    "case `{}` is in both {other} and {file}: a case is measured once; leave one of the \
                     files out",
                    case.id
                )));
            }
        }
    }

    let mut merged = runs[0].1.clone();
    merged.cases.clear();
    merged.warnings.clear();
    merged.imported.clear();
    merged.parts.clear();
    merged.shard = None;
    merged.measure_seconds = None;
    for (file, run) in runs {
        merged.timestamp = merged.timestamp.min(run.timestamp.clone());
        if let (Some(git), Some(theirs)) = (merged.git.as_mut(), run.git.as_ref()) {
            git.dirty |= theirs.dirty;
        }
        for reason in &run.env.throttle_reasons_seen {
            if !merged.env.throttle_reasons_seen.contains(reason) {
                merged.env.throttle_reasons_seen.push(reason.clone());
            }
        }
        if let Some(seconds) = run.measure_seconds {
            merged.measure_seconds = Some(merged.measure_seconds.unwrap_or(0.0) + seconds);
        }
        if run.parts.is_empty() {
            merged.parts.push(RunPart {
                file,
                hostname: run.env.hostname.clone(),
                timestamp: run.timestamp.clone(),
                shard: run.shard.as_ref().map(|s| s.shard),
                cases: run.cases.len(),
                measure_seconds: run.measure_seconds,
            });
        } else {
            merged.parts.extend(run.parts.iter().cloned());
        }
        let gpu = run.env.gpu.as_ref().map(|g| g.uuid.clone());
        merged.cases.extend(run.cases.into_iter().map(|mut case| {
            case.gpu_uuid = case.gpu_uuid.or_else(|| gpu.clone());
            case
        }));
        merged.warnings.extend(run.warnings);
        merged.imported.extend(run.imported);
    }
    if sharded > 0 {
        merged.cases.sort_by_key(|case| case.plan_index);
        for case in &mut merged.cases {
            case.plan_index = None;
        }
    }
    Ok(merged)
}

/// Shards must come from one split, each once, all of them, with every case of the plan and each
/// case's place in it.
fn check_shards(runs: &[(String, Run)]) -> Result<(), MergeError> {
    let info = |run: &Run| -> ShardInfo { run.shard.clone().expect("checked: every run is a shard") };
    let (first_file, first) = (&runs[0].0, info(&runs[0].1));
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    let mut places: BTreeSet<usize> = BTreeSet::new();
    for (file, run) in runs {
        let shard = info(run);
        if shard.shard.count != first.shard.count
            || shard.plan != first.plan
            || shard.plan_cases != first.plan_cases
        {
            return Err(MergeError(format!(
                "{first_file} is shard {} of split {} ({} cases) and {file} is shard {} of split {} ({} cases): \
                 shards of different splits do not merge; every runner must measure the same suite revision \
                 with the same selection, shard count and estimates",
                first.shard, first.plan, first.plan_cases, shard.shard, shard.plan, shard.plan_cases
            )));
        }
        if let Some(other) = by_index.insert(shard.shard.index, file) {
            return Err(MergeError(format!("{other} and {file} are both shard {}", shard.shard)));
        }
        if run.cases.len() != shard.cases {
            return Err(MergeError(format!(
                "{file} holds {} of the {} cases of shard {}: its run was cut short; measure the shard again",
                run.cases.len(),
                shard.cases,
                shard.shard
            )));
        }
        for case in &run.cases {
            match case.plan_index {
                Some(place) if place < shard.plan_cases && places.insert(place) => {}
                Some(place) => {
                    return Err(MergeError(format!(
                        "{file}: case `{}` has plan_index {place}, which is outside the plan of {} cases or \
                         taken by another case",
                        case.id, shard.plan_cases
                    )));
                }
                None => {
                    return Err(MergeError(format!(
                        "{file} is shard {} but its case `{}` has no plan_index: it was not written by \
                         `pawl run --shard`",
                        shard.shard, case.id
                    )));
                }
            }
        }
    }
    let missing: Vec<String> = (1..=first.shard.count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{}", first.shard.count))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError(format!(
            "shard {} of split {} {} missing: merge every shard's run file (a runner that failed leaves none)",
            missing.join(", "),
            first.plan,
            if missing.len() == 1 { "is" } else { "are" }
        )));
    }
    if places.len() != first.plan_cases {
        return Err(MergeError(format!(
            "the shards hold {} of the {} cases of split {}: measure the missing ones again",
            places.len(),
            first.plan_cases,
            first.plan
        )));
    }
    Ok(())
}

/// The settings that differ, as `key: a vs b`.
fn settings_differences(a: &Run, b: &Run) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(&a.settings), serde_json::to_value(&b.settings))
    else {
        return "settings".to_owned();
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let shown = |v: Option<&serde_json::Value>| v.map_or("none".to_owned(), ToString::to_string);
            format!("{k}: {} vs {}", shown(a.get(k)), shown(b.get(k)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{CaseResult, CaseStatus, Environment, GitInfo, GpuInfo};
    use crate::shard::{self, Shard};
    use crate::suite::MeasureSettings;

    fn env(gpu: &str, uuid: &str, host: &str) -> Environment {
        Environment {
            clock: Default::default(),
            hostname: host.into(),
            gpu: Some(GpuInfo {
                name: gpu.into(),
                uuid: uuid.into(),
                compute_capability: "9.0".into(),
                sm_count: 132,
                l2_bytes: 50 << 20,
                memory_bytes: 80 << 30,
                driver_version: "580.1".into(),
                cuda_version: "13.0".into(),
                nvrtc_version: None,
                max_sm_clock_mhz: None,
            }),
            ..Environment::default()
        }
    }

    fn ids() -> Vec<CaseId> {
        (1..=7).map(|n| CaseId::from_raw(format!("b/N={n}"))).collect()
    }

    /// The shards of a plan of seven cases, as `pawl run --shard i/n` writes them.
    fn shards(count: u32) -> Vec<(String, Run)> {
        let ids = ids();
        let refs: Vec<&CaseId> = ids.iter().collect();
        (1..=count)
            .map(|index| {
                let part = shard::split(&refs, Shard { index, count }, None);
                let host = format!("runner-{index}");
                let mut run = Run::new(
                    "s",
                    format!("2025-01-0{index}T00:00:00Z"),
                    env("H200", &format!("GPU-{index}"), &host),
                    MeasureSettings::default(),
                );
                run.git = Some(GitInfo { commit: "abc".into(), branch: None, dirty: index == 2 });
                run.measure_seconds = Some(10.0);
                run.cases = part
                    .cases
                    .iter()
                    .map(|&i| {
                        let mut c = CaseResult::not_measured(
                            ids[i].clone(),
                            "b",
                            Default::default(),
                            CaseStatus::Ok,
                            "",
                        );
                        c.error = None;
                        c.samples_ns = vec![1000.0];
                        c.plan_index = Some(i);
                        c
                    })
                    .collect();
                run.shard = Some(part.info);
                (format!("shard-{index}.json"), run)
            })
            .collect()
    }

    fn error(runs: Vec<(String, Run)>) -> String {
        merge(runs).unwrap_err().0
    }

    #[test]
    fn shards_merge_back_into_suite_order() {
        let mut parts = shards(3);
        parts.reverse();
        let merged = merge(parts).unwrap();
        let order: Vec<&str> = merged.cases.iter().map(|c| c.id.as_str()).collect();
        let expected: Vec<CaseId> = ids();
        assert_eq!(order, expected.iter().map(CaseId::as_str).collect::<Vec<_>>());
        assert!(merged.cases.iter().all(|c| c.plan_index.is_none()), "a merged run is not a shard");
        assert!(merged.cases.iter().all(|c| c.gpu_uuid.as_deref().is_some_and(|g| g.starts_with("GPU-"))));
        assert_eq!(merged.shard, None);
        assert_eq!(merged.measure_seconds, Some(30.0), "machine seconds add up");
        assert_eq!(merged.timestamp, "2025-01-01T00:00:00Z");
        assert!(merged.git.as_ref().unwrap().dirty, "dirty if any part was");
        let hosts: Vec<&str> = merged.parts.iter().map(|p| p.hostname.as_str()).collect();
        assert_eq!(hosts, ["runner-1", "runner-2", "runner-3"]);
        assert_eq!(merged.parts.iter().map(|p| p.cases).sum::<usize>(), 7);
        merged.validate().unwrap();
    }

    #[test]
    fn runs_of_other_suites_testbeds_settings_or_commits_are_refused() {
        let mut parts = shards(2);
        parts[1].1.suite = "other".into();
        let err = error(parts);
        assert!(
            err.contains("shard-1.json") && err.contains("shard-2.json") && err.contains("`other`"),
            "{err}"
        );

        let mut parts = shards(2);
        parts[1].1.env = env("NVIDIA A100", "GPU-9", "x");
        let err = error(parts);
        assert!(err.contains("shard-2.json") && err.contains("A100") && err.contains("testbeds"), "{err}");

        let mut parts = shards(2);
        parts[1].1.settings.max_time_s = 9.0;
        let err = error(parts);
        assert!(err.contains("max_time_s: 5.0 vs 9.0"), "{err}");

        let mut parts = shards(2);
        parts[0].1.git.as_mut().unwrap().commit = "def".into();
        let err = error(parts);
        assert!(err.contains("commit def") && err.contains("commit abc"), "{err}");
    }

    #[test]
    fn duplicates_missing_or_short_shards_are_refused() {
        let mut parts = shards(3);
        parts.push((String::from("again.json"), parts[1].1.clone()));
        let err = error(parts);
        assert!(err.contains("shard-2.json and again.json are both shard 2/3"), "{err}");

        let mut parts = shards(3);
        parts.remove(1);
        let err = error(parts);
        assert!(err.contains("shard 2/3") && err.contains("missing"), "{err}");

        let mut parts = shards(3);
        let cut = parts[2].1.cases.len();
        parts[2].1.cases.pop();
        let err = error(parts);
        assert!(err.contains(&format!("shard-3.json holds {} of the {cut} cases", cut - 1)), "{err}");

        let mut parts = shards(2);
        let other = shards(3).remove(0);
        parts[1] = other;
        let err = error(parts);
        assert!(err.contains("different splits"), "{err}");

        let mut parts = shards(2);
        parts[1].1.shard = None;
        for case in &mut parts[1].1.cases {
            case.plan_index = None;
        }
        let err = error(parts);
        assert!(err.contains("shard-1.json is a shard") && err.contains("shard-2.json is not"), "{err}");

        let mut parts = shards(2);
        parts[1].1.cases[0].plan_index = parts[0].1.cases[0].plan_index;
        let err = error(parts);
        assert!(err.contains("taken by another case"), "{err}");

        assert!(error(Vec::new()).contains("no run files"));
    }

    #[test]
    fn runs_measured_apart_merge_in_file_order_refusing_a_case_twice() {
        let whole = merge(shards(2)).unwrap();
        let (a, b) = whole.cases.split_at(3);
        let part = |name: &str, cases: &[CaseResult]| {
            let mut run = whole.clone();
            run.parts.clear();
            run.cases = cases.to_vec();
            (name.to_owned(), run)
        };
        let merged = merge(vec![part("b.json", b), part("a.json", a)]).unwrap();
        assert_eq!(merged.cases[0].id, b[0].id, "file order");
        assert_eq!(merged.cases.len(), 7);
        let err = error(vec![part("a.json", a), part("a2.json", &whole.cases[2..4])]);
        assert!(err.contains(&format!("case `{}` is in both a.json and a2.json", a[2].id)), "{err}");
    }
}
