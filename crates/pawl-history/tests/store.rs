//! The history store, the same tests on SQLite and on a real Postgres server.

mod common;

use std::thread;

use common::{H100, env, locations, postgres, run};
use pawl_history::{Location, Origin, PointFilter, RunFilter, open};

/// Runs `test` on every store, with the store's name in any failure.
fn on_each_store(name: &str, test: impl Fn(&Location)) {
    let dir = tempfile::tempdir().unwrap();
    for location in locations(dir.path(), name) {
        eprintln!("{name} on {location}");
        test(&location);
    }
}

#[test]
fn a_run_reads_back_exactly_as_recorded() {
    on_each_store("round_trip", |location| {
        let mut store = open(location).unwrap();
        let mut recorded = run("kernels", "2026-05-20T10:00:00Z", "a1b2c3", 4, 1.0, 1);
        recorded.cases[3].status = pawl_core::run::CaseStatus::Failed;
        recorded.cases[3].error = Some("compile error: `x` undeclared".into());
        recorded.cases[3].samples_ns.clear();
        recorded.cases[3].sm_clock_mhz.clear();
        recorded.cases[3].stats = None;
        let appended = store.append(&recorded, Origin::Run).unwrap();
        assert!(appended.inserted);
        assert_eq!(appended.key, pawl_history::run_key(&recorded));
        assert_eq!(appended.cases, 4);
        assert_eq!(store.run(&appended.key).unwrap(), recorded);
        assert_eq!(store.run(&appended.key[..8]).unwrap(), recorded, "a key prefix is enough");
    });
}

#[test]
fn recording_a_run_twice_keeps_one() {
    on_each_store("dedup", |location| {
        let mut store = open(location).unwrap();
        let r = run("kernels", "2026-05-20T10:00:00Z", "a1b2c3", 3, 1.0, 2);
        assert!(store.append(&r, Origin::Run).unwrap().inserted);
        let again = store.append(&r, Origin::Import).unwrap();
        assert!(!again.inserted);
        let runs = store.runs(&RunFilter::default()).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].origin, "run", "the first recording stands");
        assert_eq!(store.points(&PointFilter::default()).unwrap().len(), 3);
        // Reopening finds the schema in place and the run still there.
        drop(store);
        let mut reopened = open(location).unwrap();
        assert_eq!(reopened.runs(&RunFilter::default()).unwrap().len(), 1);
    });
}

#[test]
fn runs_list_newest_first_with_filters() {
    on_each_store("list", |location| {
        let mut store = open(location).unwrap();
        let mut failed = run("kernels", "2026-05-21T10:00:00+02:00", "bbbb", 3, 1.0, 3);
        failed.cases[0].status = pawl_core::run::CaseStatus::Wrong;
        store.append(&run("kernels", "2026-05-20T10:00:00Z", "aaaa", 3, 1.0, 4), Origin::Run).unwrap();
        store.append(&failed, Origin::Check).unwrap();
        store.append(&run("attention", "2026-05-22T10:00:00Z", "cccc", 2, 1.0, 5), Origin::Run).unwrap();
        let all = store.runs(&RunFilter::default()).unwrap();
        let commits: Vec<&str> = all.iter().map(|r| r.git.as_ref().unwrap().commit.as_str()).collect();
        assert_eq!(commits, ["cccc", "bbbb", "aaaa"]);
        assert_eq!((all[1].cases, all[1].not_ok, all[1].origin.as_str()), (3, 1, "check"));
        assert_eq!(all[1].started_at, "2026-05-21T10:00:00+02:00", "the timestamp as written");
        assert_eq!(all[0].testbed, format!("{H100} / driver 580 / CUDA 13"));
        let kernels = store.runs(&RunFilter { suite: Some("kernels".into()), ..Default::default() }).unwrap();
        assert_eq!(kernels.len(), 2);
        let since = pawl_history::micros("2026-05-21T00:00:00Z").unwrap();
        let recent =
            store.runs(&RunFilter { since_us: Some(since), limit: Some(1), ..Default::default() }).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].git.as_ref().unwrap().commit, "cccc");
    });
}

#[test]
fn points_come_in_time_order_per_testbed_and_case() {
    on_each_store("points", |location| {
        let mut store = open(location).unwrap();
        // Recorded out of order; read back by time.
        for (day, level) in [(3, 1.2), (1, 1.0), (2, 1.1)] {
            let r = run("kernels", &format!("2026-05-0{day}T10:00:00Z"), &format!("c{day}"), 2, level, day);
            store.append(&r, Origin::Run).unwrap();
        }
        let mut other = run("kernels", "2026-05-04T10:00:00Z", "c4", 2, 1.0, 4);
        other.env = env("NVIDIA H200");
        store.append(&other, Origin::Run).unwrap();
        let points = store.points(&PointFilter::default()).unwrap();
        assert_eq!(points.len(), 8);
        let order: Vec<(String, String)> = points
            .iter()
            .map(|p| {
                (p.testbed.split(' ').nth(1).unwrap().to_owned(), p.git.as_ref().unwrap().commit.clone())
            })
            .collect();
        let order: Vec<(&str, &str)> = order.iter().map(|(t, c)| (t.as_str(), c.as_str())).collect();
        let expected = [
            ("H100", "c1"),
            ("H100", "c2"),
            ("H100", "c3"),
            ("H100", "c1"),
            ("H100", "c2"),
            ("H100", "c3"),
            ("H200", "c4"),
            ("H200", "c4"),
        ];
        assert_eq!(order, expected);
        let one = store
            .points(&PointFilter { case: Some("copy/N=1024".into()), suite: Some("kernels".into()) })
            .unwrap();
        assert_eq!(one.len(), 4);
        assert_eq!(one[0].params.get("N"), Some(&pawl_core::value::Value::Int(1024)));
        let medians: Vec<f64> = one.iter().take(3).map(|p| p.median_ns.unwrap()).collect();
        assert!(medians[0] < medians[1] && medians[1] < medians[2], "{medians:?}");
        assert_eq!(one[0].samples, 60);
        assert_eq!(one[0].sm_clock_mhz, Some(1980.0));
        assert!(one[0].ci_low_ns.unwrap() <= medians[0] && medians[0] <= one[0].ci_high_ns.unwrap());
    });
}

#[test]
fn four_writers_lose_nothing() {
    on_each_store("concurrency", |location| {
        // Create the schema first in one of the writers, at the same moment as the others.
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let location = location.clone();
                thread::spawn(move || {
                    let mut store = open(&location).unwrap();
                    for i in 0..100 {
                        let ts = format!("2026-05-20T10:{:02}:{:02}Z", w * 10 + i / 60, i % 60);
                        let r = run("kernels", &ts, &format!("w{w}-{i}"), 3, 1.0, (w * 1000 + i) as u64);
                        assert!(store.append(&r, Origin::Run).unwrap().inserted);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let mut store = open(location).unwrap();
        let runs = store.runs(&RunFilter::default()).unwrap();
        assert_eq!(runs.len(), 400, "every run of every writer is there");
        assert!(runs.iter().all(|r| r.cases == 3));
        assert_eq!(store.points(&PointFilter::default()).unwrap().len(), 1200);
    });
}

#[test]
fn bad_runs_and_keys_are_clear_errors() {
    on_each_store("errors", |location| {
        let mut store = open(location).unwrap();
        let bad = run("kernels", "last tuesday", "x", 1, 1.0, 9);
        let err = store.append(&bad, Origin::Import).unwrap_err().to_string();
        assert!(err.contains("`last tuesday`") && err.contains("RFC 3339"), "{err}");
        assert!(store.runs(&RunFilter::default()).unwrap().is_empty(), "nothing half-written");
        let err = store.run("0123abcd").unwrap_err().to_string();
        assert!(err.contains("no run has a key starting with `0123abcd`"), "{err}");
        let err = store.run("'; DROP TABLE pawl_runs; --").unwrap_err().to_string();
        assert!(err.contains("not a run key"), "{err}");
        store.append(&run("kernels", "2026-05-20T10:00:00Z", "x", 1, 1.0, 10), Origin::Run).unwrap();
        store.append(&run("kernels", "2026-05-21T10:00:00Z", "y", 1, 1.0, 11), Origin::Run).unwrap();
        let err = store.run("").unwrap_err().to_string();
        assert!(err.contains("not a run key"), "{err}");
        // Case ids and suite names are data, never SQL.
        let mut odd = run("it's \"odd\"; --", "2026-05-22T10:00:00Z", "z", 1, 1.0, 12);
        odd.cases[0].id = pawl_core::case::CaseId::from_raw("copy/N=1'); DROP TABLE pawl_cases; --");
        let key = store.append(&odd, Origin::Run).unwrap().key;
        assert_eq!(store.run(&key).unwrap(), odd);
        assert_eq!(store.runs(&RunFilter::default()).unwrap().len(), 3);
    });
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    std::fs::write(&path, "this is a text file, not SQLite\n".repeat(100)).unwrap();
    let err = open(&Location::Sqlite(path.clone())).err().unwrap().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("not a database"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "this is a text file, not SQLite\n".repeat(100));
}

#[test]
fn sqlite_makes_its_folder_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".pawl/history.sqlite");
    let mut store = open(&Location::Sqlite(path.clone())).unwrap();
    store.append(&run("kernels", "2026-05-20T10:00:00Z", "x", 1, 1.0, 1), Origin::Run).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    let mode: String = db.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: i64 =
        db.query_row("SELECT MAX(version) FROM pawl_schema_history", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 1);
}

#[test]
fn postgres_errors_never_show_the_password() {
    let Some(Location::Postgres(url)) = postgres("password") else { return };
    let (scheme, after) = url.split_once("://").unwrap();
    let (user_info, rest) = after.split_once('@').unwrap();
    let (user, password) = user_info.split_once(':').expect("the test server's URL carries a password");
    let wrong = format!("{scheme}://{user}:not-the-password-XYZ@{rest}");
    let err = open(&Location::Postgres(wrong)).err().unwrap().to_string();
    assert!(!err.contains("not-the-password-XYZ"), "{err}");
    assert!(err.contains(&format!("{user}:***@")), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    // A server that is not there: a clear error, and no password either.
    let nowhere = format!("{scheme}://{user}:{password}@127.0.0.1:1/pawl");
    let err = open(&Location::Postgres(nowhere)).err().unwrap().to_string();
    assert!(err.contains("history postgres://") && !err.contains(password), "{err}");
}
