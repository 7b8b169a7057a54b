//! Split + enqueue rate on RabbitMQ: a 100,000-frame job, chunk 1, created
//! in the database and published with confirms by the coordinator's
//! dispatcher, side by side with a bare lapin publisher sending as many
//! persistent messages of the same size to the same kind of queue.
//!
//! `cargo bench -p coordinator --bench enqueue` (RabbitMQ on 127.0.0.1:5672,
//! `rabbitmqctl` on PATH). `BENCH_FRAMES` changes the job size,
//! `BENCH_ROUNDS` the number of rounds (each in a fresh virtual host).

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

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one round measured.
struct Round {
    split_secs: f64,
    farm_rate: f64,
    bare_rate: f64,
    message_size: usize,
}

#[tokio::main]
async fn main() {
    let frames = env_number("BENCH_FRAMES", 100_000);
    let rounds = env_number("BENCH_ROUNDS", 3);
    println!("split + enqueue of a {frames}-frame job, chunk 1, RabbitMQ with publisher confirms");
    println!("  (each round in a fresh virtual host: the bare publisher first, then the farm)");
    let mut results = Vec::new();
    for n in 1..=rounds {
        let round = round(frames).await;
        println!(
            "  round {n}: split {:.2} s | farm {:>6.0} tasks/s | bare lapin {:>6.0} msgs/s ({} B) | ratio {:.2}",
            round.split_secs,
            round.farm_rate,
            round.bare_rate,
            round.message_size,
            round.farm_rate / round.bare_rate
        );
        results.push(round);
    }
    let best = |rate: fn(&Round) -> f64| results.iter().map(rate).fold(0.0, f64::max);
    let (farm, bare) = (best(|r| r.farm_rate), best(|r| r.bare_rate));
    println!("  best farm split + enqueue: {farm:>6.0} tasks/s");
    println!("  best bare lapin publisher: {bare:>6.0} msgs/s");
    println!("  ratio farm / bare:         {:.2}", farm / bare);
}

/// One measurement in a fresh virtual host.
async fn round(frames: usize) -> Round {
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
    let store = storage::open_granting(&config.store, None).unwrap();
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
    let job = NewJob {
        name: "enqueue bench".into(),
        scene: hash.clone(),
        renderer: Renderer::Blender,
        frames: FrameSpec::parse(&format!("1-{frames}"), frames).unwrap(),
        chunk_size: 1,
        priority: 50,
        output: OutputSpec::default(),
        overrides: Overrides::default(),
        task_timeout_secs: 3600,
        parity_bp: 0,
        options: Default::default(),
    };
    let message_size = {
        let task = protocol::TaskMessage {
            task_id: protocol::TaskId::new(),
            job_id: protocol::JobId::new(),
            attempt: 1,
            renderer: Renderer::Blender,
            scene: protocol::SceneRef {
                hash,
                ext: "blend".into(),
            },
            bundle: None,
            frames: vec![frames as i32],
            replica: 0,
            output: OutputSpec::default(),
            overrides: Overrides::default(),
            scene_options: protocol::SceneOptions::default(),
            timeout_secs: 3600,
            device: protocol::RenderDevice::Cpu,
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

    let started = Instant::now();
    let split_db = db.clone();
    tokio::task::spawn_blocking(move || split_db.create_job(&job))
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

    drop(farm);
    drop(broker);
    rabbitmqctl(&["delete_vhost", &vhost]);
    Round {
        split_secs: split.as_secs_f64(),
        farm_rate: frames as f64 / total.as_secs_f64(),
        bare_rate,
        message_size,
    }
}
