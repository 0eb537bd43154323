-- pawl's history: one row per run, one per case of a run. Written in the SQL that SQLite and Postgres
-- share, so both run this very file. Tables carry a `pawl_` prefix: a team's database may hold others.

CREATE TABLE pawl_runs (
    -- SHA-256 of the run's JSON (first 32 hex digits): the same run recorded twice is one row.
    run_key TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    -- The run file's timestamp as written, and the same instant in microseconds since 1970 (UTC),
    -- which orders the runs.
    started_at TEXT NOT NULL,
    started_us BIGINT NOT NULL,
    -- When it was recorded, and the same in microseconds: runs that started in the same second are
    -- ordered by when they were recorded.
    recorded_at TEXT NOT NULL,
    recorded_us BIGINT NOT NULL,
    -- How it was recorded: run, check, ab-base, ab-head or import.
    origin TEXT NOT NULL,
    git_commit TEXT,
    git_branch TEXT,
    git_dirty BOOLEAN,
    -- GPU model, driver major and CUDA major: change points are found per testbed.
    testbed TEXT NOT NULL,
    hostname TEXT NOT NULL,
    pawl_version TEXT NOT NULL,
    -- The run file without its cases, as JSON: measuring settings, environment (GPU, clocks, throttle
    -- reasons), git.
    detail TEXT NOT NULL
);

CREATE INDEX pawl_runs_by_suite ON pawl_runs (suite, started_us);

CREATE TABLE pawl_cases (
    run_key TEXT NOT NULL REFERENCES pawl_runs (run_key) ON DELETE CASCADE,
    -- The case's place in the run file.
    position BIGINT NOT NULL,
    case_id TEXT NOT NULL,
    bench TEXT NOT NULL,
    -- The parameters as a JSON object, in the suite's order.
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    median_ns DOUBLE PRECISION,
    ci_low_ns DOUBLE PRECISION,
    ci_high_ns DOUBLE PRECISION,
    confidence DOUBLE PRECISION,
    rel_noise DOUBLE PRECISION,
    sample_count BIGINT NOT NULL,
    flops DOUBLE PRECISION,
    bytes DOUBLE PRECISION,
    -- Median SM clock over the samples that have one (MHz).
    sm_clock_mhz DOUBLE PRECISION,
    throttled_samples BIGINT NOT NULL,
    -- The case as the run file has it, as JSON, without its samples and clocks: tune values,
    -- correctness, summary statistics, timing, kernel facts.
    detail TEXT NOT NULL,
    PRIMARY KEY (run_key, case_id)
);

CREATE INDEX pawl_cases_by_case ON pawl_cases (case_id);

-- Every sample (ns) of a case and its SM clock, compressed (see samples.rs). A table of their own, so
-- that reading trends never reads the samples from disk.
CREATE TABLE pawl_samples (
    run_key TEXT NOT NULL,
    case_id TEXT NOT NULL,
    samples BYTEA NOT NULL,
    PRIMARY KEY (run_key, case_id),
    FOREIGN KEY (run_key, case_id) REFERENCES pawl_cases (run_key, case_id) ON DELETE CASCADE
);
