//! Database migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up. Never edit a released entry;
/// append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE scenes (
    hash        TEXT PRIMARY KEY,
    ext         TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    uploaded_ms INTEGER NOT NULL
);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    scene_hash        TEXT NOT NULL REFERENCES scenes(hash),
    renderer          TEXT NOT NULL,
    frame_spec        TEXT NOT NULL,
    frame_count       INTEGER NOT NULL,
    chunk_size        INTEGER NOT NULL,
    priority          INTEGER NOT NULL,
    output            TEXT NOT NULL,
    overrides         TEXT NOT NULL,
    task_timeout_secs INTEGER NOT NULL,
    state             TEXT NOT NULL,
    created_ms        INTEGER NOT NULL,
    finished_ms       INTEGER
);

CREATE TABLE tasks (
    id             TEXT PRIMARY KEY,
    job_id         TEXT NOT NULL REFERENCES jobs(id),
    seq            INTEGER NOT NULL,
    frames         TEXT NOT NULL,
    state          TEXT NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    failures_from  INTEGER NOT NULL DEFAULT 0,
    worker_id      TEXT,
    updated_ms     INTEGER NOT NULL
);
CREATE INDEX tasks_by_job ON tasks(job_id, seq);
CREATE INDEX tasks_by_state ON tasks(state);

CREATE TABLE frames (
    job_id  TEXT NOT NULL REFERENCES jobs(id),
    frame   INTEGER NOT NULL,
    pos     INTEGER NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks(id),
    state   TEXT NOT NULL,
    error   TEXT,
    PRIMARY KEY (job_id, frame)
) WITHOUT ROWID;
CREATE INDEX frames_by_task ON frames(task_id);

CREATE TABLE attempts (
    task_id    TEXT NOT NULL REFERENCES tasks(id),
    attempt    INTEGER NOT NULL,
    worker_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    error      TEXT,
    log_tail   TEXT,
    PRIMARY KEY (task_id, attempt, worker_id)
) WITHOUT ROWID;

CREATE TABLE results (
    job_id         TEXT NOT NULL REFERENCES jobs(id),
    frame          INTEGER NOT NULL,
    replica        INTEGER NOT NULL,
    task_id        TEXT NOT NULL,
    attempt        INTEGER NOT NULL,
    worker_id      TEXT NOT NULL,
    object_key     TEXT NOT NULL,
    pixel_hash     TEXT NOT NULL,
    render_seconds REAL NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL,
    PRIMARY KEY (job_id, frame, replica)
) WITHOUT ROWID;

CREATE TABLE workers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    owner         TEXT NOT NULL,
    region        TEXT NOT NULL,
    node_class    TEXT NOT NULL,
    info          TEXT NOT NULL,
    state         TEXT NOT NULL,
    task_id       TEXT,
    frame         INTEGER,
    progress      REAL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE jobs ADD COLUMN parity_bp INTEGER NOT NULL DEFAULT 500;
ALTER TABLE jobs ADD COLUMN report_key TEXT;

ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'render';
ALTER TABLE tasks ADD COLUMN replica INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN target_worker TEXT;
CREATE INDEX tasks_by_target ON tasks(target_worker) WHERE target_worker IS NOT NULL;
CREATE INDEX tasks_by_job_state ON tasks(job_id, state);

ALTER TABLE frames ADD COLUMN check_state TEXT NOT NULL DEFAULT 'unchecked';
ALTER TABLE frames ADD COLUMN primary_replica INTEGER NOT NULL DEFAULT 0;
ALTER TABLE frames ADD COLUMN next_replica INTEGER NOT NULL DEFAULT 1;
ALTER TABLE frames ADD COLUMN replicated INTEGER NOT NULL DEFAULT 0;

ALTER TABLE results ADD COLUMN kind TEXT NOT NULL DEFAULT 'render';
ALTER TABLE results ADD COLUMN status TEXT NOT NULL DEFAULT 'unverified';
ALTER TABLE results ADD COLUMN render_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN device_family TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE results ADD COLUMN device_class TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE results ADD COLUMN rate_micros INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_by_worker ON results(worker_id, status);

ALTER TABLE workers ADD COLUMN device_family TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE workers ADD COLUMN device_class TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE workers ADD COLUMN verified_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN blocklisted_ms INTEGER;
ALTER TABLE workers ADD COLUMN blocklist_reason TEXT;

CREATE TABLE verdicts (
    job_id     TEXT NOT NULL REFERENCES jobs(id),
    frame      INTEGER NOT NULL,
    replica_a  INTEGER NOT NULL,
    replica_b  INTEGER NOT NULL,
    verdict    TEXT NOT NULL,
    numbers    TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, frame, replica_a, replica_b)
) WITHOUT ROWID;

CREATE TABLE strikes (
    worker_id  TEXT NOT NULL,
    job_id     TEXT NOT NULL,
    frame      INTEGER NOT NULL,
    replica    INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (worker_id, job_id, frame, replica)
) WITHOUT ROWID;
"#,
    // A build of migration 2 that was edited after release carried this
    // index already, hence IF NOT EXISTS.
    r#"
CREATE INDEX IF NOT EXISTS frames_comparing ON frames(job_id) WHERE check_state = 'comparing';
"#,
    r#"
ALTER TABLE results ADD COLUMN checked_hash TEXT;
ALTER TABLE results ADD COLUMN reported_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN device_used TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE results ADD COLUMN intake_ms INTEGER;
ALTER TABLE attempts ADD COLUMN last_result_ms INTEGER;
CREATE INDEX results_awaiting_intake ON results(job_id) WHERE intake_ms IS NULL;

ALTER TABLE workers ADD COLUMN refused_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN last_refusal TEXT;
ALTER TABLE workers ADD COLUMN last_refusal_ms INTEGER;
ALTER TABLE workers ADD COLUMN enrolled_ms INTEGER;
ALTER TABLE workers ADD COLUMN enrollment_id TEXT;
ALTER TABLE workers ADD COLUMN device_classes TEXT NOT NULL DEFAULT '["cpu"]';

CREATE TABLE enrollments (
    id             TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    owner          TEXT NOT NULL,
    region         TEXT NOT NULL,
    node_classes   TEXT NOT NULL,
    device_classes TEXT NOT NULL,
    max_workers    INTEGER,
    enrolled       INTEGER NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    expires_ms     INTEGER,
    revoked_ms     INTEGER
);
"#,
    // API tokens (only their hashes), and the tenant each job and scene
    // upload belongs to. Scenes uploaded before belong to no tenant
    // (admins only).
    r#"
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    tenant     TEXT,
    owner      TEXT,
    label      TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked_ms INTEGER
);

ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_by_tenant ON jobs(tenant, created_ms);

CREATE TABLE scene_tenants (
    hash   TEXT NOT NULL REFERENCES scenes(hash),
    tenant TEXT NOT NULL,
    PRIMARY KEY (hash, tenant)
) WITHOUT ROWID;
INSERT INTO scene_tenants (hash, tenant) SELECT hash, '' FROM scenes;
"#,
    // The unguessable part of each attempt's storage keys, chosen when the
    // attempt starts; attempts from before get one now.
    r#"
ALTER TABLE attempts ADD COLUMN key_nonce TEXT;
UPDATE attempts SET key_nonce = lower(hex(randomblob(16)));
"#,
    // Scene bundles: content-addressed blobs, which tenant uploaded each
    // (a tenant is told only about its own), and bundle manifests.
    r#"
CREATE TABLE blobs (
    hash        TEXT PRIMARY KEY,
    bytes       INTEGER NOT NULL,
    uploaded_ms INTEGER NOT NULL
);

CREATE TABLE blob_tenants (
    hash   TEXT NOT NULL REFERENCES blobs(hash),
    tenant TEXT NOT NULL,
    PRIMARY KEY (tenant, hash)
) WITHOUT ROWID;

CREATE TABLE bundles (
    tenant     TEXT NOT NULL,
    id         TEXT NOT NULL,
    main       TEXT NOT NULL,
    manifest   TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
"#,
    // Jobs from bundles (the manifest, and the blobs its workers may read),
    // and the region and node class a job asked for.
    r#"
ALTER TABLE jobs ADD COLUMN bundle_id TEXT;
ALTER TABLE jobs ADD COLUMN bundle TEXT;
ALTER TABLE jobs ADD COLUMN region TEXT;
ALTER TABLE jobs ADD COLUMN node_class TEXT;

CREATE TABLE job_blobs (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    hash   TEXT NOT NULL REFERENCES blobs(hash),
    PRIMARY KEY (job_id, hash)
) WITHOUT ROWID;
"#,
    // The change feed: triggers record every change of a job's, frame's or
    // worker's state, and every delivered copy, with the states before and
    // after, in order. `GET /api/v1/events` streams it.
    r#"
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms     INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    kind      TEXT NOT NULL,
    job_id    TEXT,
    frame     INTEGER,
    worker_id TEXT,
    was       TEXT,
    now       TEXT,
    was_check TEXT,
    now_check TEXT
);
CREATE INDEX changes_by_job ON changes(job_id, seq);

CREATE TRIGGER job_created AFTER INSERT ON jobs BEGIN
    INSERT INTO changes (kind, job_id, now) VALUES ('job', NEW.id, NEW.state);
END;
CREATE TRIGGER job_changed AFTER UPDATE OF state, priority ON jobs
WHEN OLD.state IS NOT NEW.state OR OLD.priority IS NOT NEW.priority BEGIN
    INSERT INTO changes (kind, job_id, was, now) VALUES ('job', NEW.id, OLD.state, NEW.state);
END;
CREATE TRIGGER frame_changed AFTER UPDATE OF state, check_state ON frames
WHEN OLD.state IS NOT NEW.state OR OLD.check_state IS NOT NEW.check_state BEGIN
    INSERT INTO changes (kind, job_id, frame, was, now, was_check, now_check)
    VALUES ('frame', NEW.job_id, NEW.frame, OLD.state, NEW.state, OLD.check_state, NEW.check_state);
END;
CREATE TRIGGER copy_delivered AFTER INSERT ON results BEGIN
    INSERT INTO changes (kind, job_id, frame, worker_id, now)
    VALUES ('copy', NEW.job_id, NEW.frame, NEW.worker_id, NEW.replica);
END;
CREATE TRIGGER worker_seen AFTER INSERT ON workers BEGIN
    INSERT INTO changes (kind, worker_id, now) VALUES ('worker', NEW.id, NEW.state);
END;
CREATE TRIGGER worker_changed AFTER UPDATE OF state, task_id, frame, blocklisted_ms, strikes ON workers
WHEN OLD.state IS NOT NEW.state OR OLD.task_id IS NOT NEW.task_id OR OLD.frame IS NOT NEW.frame
    OR OLD.blocklisted_ms IS NOT NEW.blocklisted_ms OR OLD.strikes IS NOT NEW.strikes BEGIN
    INSERT INTO changes (kind, worker_id, was, now) VALUES ('worker', NEW.id, OLD.state, NEW.state);
END;
"#,
    // Web UI sessions (the hash of the cookie's secret, the token it acts
    // as, its CSRF token) and one-time sign-in links.
    r#"
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    token_id   TEXT NOT NULL REFERENCES tokens(id),
    csrf       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);

CREATE TABLE sign_in_links (
    hash       TEXT PRIMARY KEY,
    token_id   TEXT NOT NULL REFERENCES tokens(id),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER
);
"#,
    // Draining workers (an admin or the worker's provider takes one off the
    // farm gently): the change feed reports a drain starting and ending.
    // Jobs' placement beyond region and node class; a job with any
    // constraint is routed (its tasks go to matching workers' own queues).
    r#"
ALTER TABLE workers ADD COLUMN draining_ms INTEGER;
ALTER TABLE jobs ADD COLUMN gpu_model TEXT;
ALTER TABLE jobs ADD COLUMN min_vram_mib INTEGER;
ALTER TABLE jobs ADD COLUMN routed INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET routed = 1 WHERE region IS NOT NULL OR node_class IS NOT NULL;

DROP TRIGGER worker_changed;
CREATE TRIGGER worker_changed AFTER UPDATE OF state, task_id, frame, blocklisted_ms, strikes, draining_ms ON workers
WHEN OLD.state IS NOT NEW.state OR OLD.task_id IS NOT NEW.task_id OR OLD.frame IS NOT NEW.frame
    OR OLD.blocklisted_ms IS NOT NEW.blocklisted_ms OR OLD.strikes IS NOT NEW.strikes
    OR OLD.draining_ms IS NOT NEW.draining_ms BEGIN
    INSERT INTO changes (kind, worker_id, was, now) VALUES ('worker', NEW.id, OLD.state, NEW.state);
END;
"#,
    // 12: admin-defined node classes (price per frame-second, minimum per
    // frame, speed score), each copy's minimum charge, the estimate a job
    // was submitted with, whether it renders on GPUs, and the benchmark
    // frame a worker renders to earn its class (a job pinned to it, timed
    // from when its task was queued).
    r#"
CREATE TABLE node_classes (
    name TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    price_micros_per_second INTEGER,
    min_micros_per_frame INTEGER NOT NULL DEFAULT 0,
    speed_score REAL NOT NULL DEFAULT 1.0,
    benchmark_max_ms INTEGER,
    description TEXT NOT NULL DEFAULT '',
    updated_ms INTEGER NOT NULL
);
ALTER TABLE results ADD COLUMN min_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN estimate TEXT;
ALTER TABLE jobs ADD COLUMN wants_gpu INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET wants_gpu = (gpu_model IS NOT NULL OR min_vram_mib IS NOT NULL);
ALTER TABLE workers ADD COLUMN class_check TEXT;
ALTER TABLE workers ADD COLUMN class_check_job TEXT;
ALTER TABLE workers ADD COLUMN class_check_ms INTEGER;
ALTER TABLE workers ADD COLUMN class_check_note TEXT;
ALTER TABLE jobs ADD COLUMN pinned_worker TEXT;
ALTER TABLE tasks ADD COLUMN queued_ms INTEGER;
"#,
    // 13: benchmarks: one request renders the same frames on several node
    // classes (one job per class, run 0 the baseline); each frame's
    // accepted copy of every other run is compared with the baseline's,
    // keyed by both copies' pixel hashes so a changed copy is compared again.
    // A benchmark may instead have a reference: the studio's own sequence,
    // uploaded frame by frame, with the figures the studio states for it
    // (never observed here); every run is then compared with it.
    r#"
CREATE TABLE benchmarks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    tenant     TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    reference_name                 TEXT,
    reference_seconds_per_frame    REAL,
    reference_cost_micros          INTEGER,
    reference_time_to_complete_secs REAL
);
CREATE INDEX benchmarks_by_tenant ON benchmarks(tenant, created_ms);

CREATE TABLE benchmark_runs (
    benchmark_id TEXT NOT NULL REFERENCES benchmarks(id),
    position     INTEGER NOT NULL,
    node_class   TEXT NOT NULL,
    job_id       TEXT NOT NULL UNIQUE REFERENCES jobs(id),
    PRIMARY KEY (benchmark_id, position)
) WITHOUT ROWID;

CREATE TABLE benchmark_diffs (
    benchmark_id TEXT NOT NULL REFERENCES benchmarks(id),
    frame        INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    hash_a       TEXT NOT NULL,
    hash_b       TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    mean_flip    REAL,
    max_flip     REAL,
    numbers      TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (benchmark_id, frame, position)
) WITHOUT ROWID;

CREATE TABLE benchmark_reference_frames (
    benchmark_id TEXT NOT NULL REFERENCES benchmarks(id),
    frame        INTEGER NOT NULL,
    object_key   TEXT NOT NULL,
    pixel_hash   TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    uploaded_ms  INTEGER NOT NULL,
    PRIMARY KEY (benchmark_id, frame)
) WITHOUT ROWID;
"#,
    // Renderer versions and scene options (a Cinema 4D take, an Octane
    // render target) per job.
    r#"
ALTER TABLE jobs ADD COLUMN renderer_version TEXT;
ALTER TABLE jobs ADD COLUMN scene_options TEXT NOT NULL DEFAULT '{}';
"#,
];

/// Bring the schema up to date. Returns the version reached.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "database migrated");
    }
    Ok(MIGRATIONS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// blake3 of every released migration, in order. A released migration is
    /// never edited (databases in the field already ran it): append a new
    /// one, then add its hash here once it ships.
    const RELEASED: &[&str] = &[
        "e2e494d1dceb07e6966676f2c6141362fbcd466b47e3b034283568b85702407d",
        "4bdfda5c50105fa6b0262f1dbac0aefa4e6c1d8c005f8a9f6d9bb2844ce0ea64",
        "8339c78b100f85cf569296e146ffae2bda6f20f6abe6b760bc4c30aacb500efe",
        "1ff2b9251b0f7982b9f25f1787fb48823886927dfd5175e45e86f1eac11ecffb",
        "b5478c31cecd9fd437b470f3cdae344b4b3b81738c217ae1ce31a25a2a3cf95a",
        "283912b49c19f720761243216e57447decf94fe2a8e6802f2e1c906fefec15b7",
        "09d61418935b4344737b090bcfea2f52c5c8e05bc224cfb6908992e2823dedbf",
        "325da106675bd482c70bb408e94e395183c444734021485ca2091171282e7668",
        "9b5be67b49b4fc4e094369b43bc88c1f75bfdd061c12060940657f7eeaa681e1",
        "ae2d6d7040a438b7a8f6a41557d14d7e1c106ca11200b9de7f0d0a93b622da81",
        "a371cc5371c967e2e38ff24c0e08b32b3a2ef43b63142ec635dface807093f99",
        "9b87b5b94a5ece09a23c883f0aeec2ad5bf29f951cbd92df8c75cebb8b420335",
        "23c712f7e24ae384a5784febc4f46dd397938864f921fed83497aba9b487cefe",
        "01b4553747c1451b03d3f06ba2b92838c8f1fd5250333e386bbb52de2a00cdaf",
    ];

    #[test]
    fn released_migrations_are_never_edited() {
        assert!(
            RELEASED.len() <= MIGRATIONS.len(),
            "a released migration was removed"
        );
        for (index, (sql, released)) in MIGRATIONS.iter().zip(RELEASED).enumerate() {
            assert_eq!(
                blake3::hash(sql.as_bytes()).to_hex().as_str(),
                *released,
                "migration {} was edited after release; restore it and append a new migration",
                index + 1
            );
        }
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len());
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len());
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
    }
}
