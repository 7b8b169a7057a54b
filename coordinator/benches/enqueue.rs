//! Split + enqueue rate on RabbitMQ: a 100,000-frame job, chunk 1, created
//! in the database and published with confirms by the coordinator's
//! dispatcher, side by side with a bare lapin publisher sending as many
//! persistent messages of the same size to the same kind of queue.
//!
//! `cargo bench -p coordinator --bench enqueue` (RabbitMQ on 127.0.0.1:5672,
//! `rabbitmqctl` on PATH). `BENCH_FRAMES` changes the job size.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use coordinator::config::Config;
use coordinator::db::{Db, NewJob};
use coordinator::farm::Farm;
use protocol::{FrameSpec, OutputSpec, Overrides, Renderer, SceneHash, queues};

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

#[tokio::main]
async fn main() {
    let frames: usize = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let vhost = format!("bench-{}", uuid::Uuid::new_v4().simple());
    rabbitmqctl(&["add_vhost", &vhost]);
    rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
    let url = format!("amqp://guest:guest@127.0.0.1:5672/{vhost}");

    let dir = tempfile::tempdir().unwrap();
    let queue_config: queue::QueueConfig =
        toml::from_str(&format!("kind = \"rabbitmq\"\nurl = \"{url}\"")).unwrap();
    let config = Config {
        database: dir.path().join("bench.sqlite"),
        queue: queue_config.clone(),
        store: storage::StoreConfig::local(&dir.path().join("store")),
        ..Config::default()
    };
    let broker = queue::connect(&queue_config).await.unwrap();
    let store = storage::open(&config.store).unwrap();
    let db = Db::open(&config.database).unwrap();
    let farm = Farm::new(config, db.clone(), Arc::clone(&broker), store)
        .await
        .unwrap();

    let hash: SceneHash = blake3::hash(b"bench scene")
        .to_hex()
        .to_string()
        .parse()
        .unwrap();
    db.record_scene(&hash, "blend", 11).unwrap();
    let spec = FrameSpec::parse(&format!("1-{frames}"), frames).unwrap();
    let job = NewJob {
        name: "enqueue bench".into(),
        scene: hash,
        renderer: Renderer::Blender,
        frames: spec,
        chunk_size: 1,
        priority: 50,
        output: OutputSpec::default(),
        overrides: Overrides::default(),
        task_timeout_secs: 3600,
    };

    let started = Instant::now();
    let split_db = db.clone();
    let job_id = tokio::task::spawn_blocking(move || split_db.create_job(&job))
        .await
        .unwrap()
        .unwrap();
    let split = started.elapsed();
    let published = farm.dispatch_pending().await.unwrap();
    let total = started.elapsed();
    assert_eq!(published, frames);
    let ready = broker
        .ready_count(&queues::tasks(Renderer::Blender))
        .await
        .unwrap();
    assert_eq!(ready as usize, frames, "every task is on the queue");
    let farm_rate = frames as f64 / total.as_secs_f64();

    let sample = db.take_pending(1).unwrap();
    assert!(sample.is_empty(), "job {job_id} fully dispatched");
    let message_size = {
        let detail = db.job_detail(job_id).unwrap();
        let task = protocol::TaskMessage {
            task_id: detail.frame_list[0].task_id,
            job_id,
            attempt: 1,
            renderer: Renderer::Blender,
            scene: protocol::SceneRef {
                hash: detail.job.scene.clone(),
                ext: "blend".into(),
            },
            frames: vec![detail.frame_list[0].frame],
            replica: 0,
            output: OutputSpec::default(),
            overrides: Overrides::default(),
            timeout_secs: 3600,
        };
        serde_json::to_vec(&task).unwrap().len()
    };
    let bare_rate = queue::bench_support::bare_lapin_publish(
        &url,
        "bench.bare",
        queues::MAX_PRIORITY,
        frames,
        message_size,
    )
    .await
    .unwrap();

    println!("split + enqueue of a {frames}-frame job, chunk 1, RabbitMQ with publisher confirms");
    println!("  message size:              {message_size} bytes");
    println!("  split into SQLite:         {:.2} s", split.as_secs_f64());
    println!(
        "  split + enqueue (farm):    {:.2} s  -> {farm_rate:>8.0} tasks/s",
        total.as_secs_f64()
    );
    println!(
        "  bare lapin publisher:      {:.2} s  -> {bare_rate:>8.0} msgs/s",
        frames as f64 / bare_rate
    );
    println!("  ratio farm / bare:         {:.2}", farm_rate / bare_rate);
    rabbitmqctl(&["delete_vhost", &vhost]);
}
