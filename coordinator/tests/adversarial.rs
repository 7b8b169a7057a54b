//! A hostile worker against the real farm (RabbitMQ, the S3 server, two
//! honest worker processes running Blender). The hostile worker enrolls like
//! any worker, then speaks only the wire protocol with its own broker
//! credentials: it tries the broker's other queues, speaks for the honest
//! workers, reports at another worker's key, replays, claims an hour of GPU
//! time for a frame it never uploaded, and asks the API for what it may not
//! see. Each attempt is refused; the honest workers' frames, verdicts and pay
//! are what they would be without it; it is paid nothing.

mod support;

use std::time::{Duration, Instant};

use coordinator::billing::Payout;
use coordinator::money::Money;
use coordinator::state::{CheckState, FrameState, JobState};
use protocol::{
    Control, CpuInfo, EnrollRequest, EnrollResponse, FrameDone, GrantObject, GrantRequest,
    Heartbeat, RenderDevice, Renderer, RendererInfo, StorageGrant, TaskFailed, TaskId, TaskMessage,
    WorkerEvent, WorkerId, WorkerInfo, queues,
};
use queue::{Broker, Outgoing, RabbitMq, RabbitMqOptions};
use serde_json::{Value, json};
use support::app::{WorkerProcess, test_config};
use support::{TestApp, real_services, sample_scene};

/// A task delivery in hand, with the consumer it came on.
struct Taken {
    delivery: queue::Delivery,
    _consumer: Box<dyn queue::Consumer>,
}

/// The hostile worker: enrolled, with its own broker user.
struct Hostile {
    id: WorkerId,
    broker: RabbitMq,
    control: tokio::sync::Mutex<Box<dyn queue::Consumer>>,
}

impl Hostile {
    /// Enroll through the public API with a token of owner `mallory`.
    async fn enroll(app: &TestApp) -> Self {
        let token = app.enrollment_token("mallory").await;
        let answer: EnrollResponse = reqwest::Client::new()
            .post(format!("{}/api/v1/workers/enroll", app.api))
            .json(&EnrollRequest {
                token: token.expose().to_owned(),
                name: "mallory".into(),
            })
            .send()
            .await
            .expect("enrollment sent")
            .error_for_status()
            .expect("enrolled")
            .json()
            .await
            .expect("identity");
        let options = RabbitMqOptions {
            reconnect_for: Duration::from_secs(2),
            ..RabbitMqOptions::default()
        };
        let broker = RabbitMq::connect_with(&answer.queue_url, options)
            .await
            .expect("the hostile worker connects with its own user");
        let control = broker
            .consume(&[queues::worker_control(answer.worker_id)], 16)
            .await
            .expect("it may read its own control queue");
        let hostile = Self {
            id: answer.worker_id,
            broker,
            control: tokio::sync::Mutex::new(control),
        };
        // It announces itself as a Blender worker, as any worker does, so
        // the coordinator lets it take Blender tasks.
        hostile
            .say(&WorkerEvent::Announce(WorkerInfo {
                id: hostile.id,
                name: "mallory".into(),
                owner: "mallory".into(),
                region: "local".into(),
                node_class: "standard".into(),
                renderers: vec![RendererInfo {
                    renderer: Renderer::Blender,
                    version: "3.4.1".into(),
                    formats: Vec::new(),
                }],
                cpu: CpuInfo::default(),
                gpus: Vec::new(),
                hostname: "mallory".into(),
            }))
            .await;
        wait_online(app, &["mallory"]).await;
        hostile
    }

    /// Ask for a storage grant and wait for the answer on its control queue:
    /// `Ok` with the grant, `Err` with the refusal's reason.
    async fn grant(
        &self,
        task_id: TaskId,
        attempt: u32,
        object: GrantObject,
    ) -> Result<StorageGrant, String> {
        self.say(&WorkerEvent::GrantRequest(GrantRequest {
            task_id,
            attempt,
            worker: self.id,
            object: object.clone(),
        }))
        .await;
        let mut control = self.control.lock().await;
        loop {
            let delivery = tokio::time::timeout(Duration::from_secs(60), control.next())
                .await
                .expect("the coordinator answers a grant request")
                .expect("control message");
            let control: Control = serde_json::from_slice(&delivery.payload).unwrap();
            delivery.ack().await.unwrap();
            match control {
                Control::Grant(grant) if grant.task_id == task_id && grant.object == object => {
                    return Ok(grant);
                }
                Control::GrantRefused(refused)
                    if refused.task_id == task_id && refused.object == object =>
                {
                    return Err(refused.reason);
                }
                _ => {}
            }
        }
    }

    /// Take one shared task (holding nothing else) and report it started;
    /// the consumer must live until the delivery is acknowledged.
    async fn take_task(&self) -> (TaskMessage, Taken) {
        let mut tasks = self
            .broker
            .consume(&[queues::tasks(Renderer::Blender)], 1)
            .await
            .expect("it may take shared tasks");
        let delivery = tasks.next().await.expect("a task");
        tasks.stop().await.unwrap();
        let task: TaskMessage = serde_json::from_slice(&delivery.payload).unwrap();
        self.say(&WorkerEvent::TaskStarted {
            task_id: task.task_id,
            attempt: task.attempt,
            worker: self.id,
            redelivered: false,
        })
        .await;
        (
            task,
            Taken {
                delivery,
                _consumer: tasks,
            },
        )
    }

    /// A result for the task's first frame at `key`, uploaded or not.
    fn claim(
        &self,
        task: &TaskMessage,
        key: String,
        seconds: f64,
        device: RenderDevice,
    ) -> FrameDone {
        FrameDone {
            task_id: task.task_id,
            attempt: task.attempt,
            job_id: task.job_id,
            frame: task.frames[0],
            replica: task.replica,
            worker: self.id,
            object_key: key,
            pixel_hash: "00".repeat(32),
            render_seconds: seconds,
            width: 80,
            height: 45,
            bytes: 1_000,
            device,
        }
    }

    /// Report the task done and acknowledge its delivery.
    async fn finish(&self, task: &TaskMessage, taken: Taken) {
        self.say(&WorkerEvent::TaskDone {
            task_id: task.task_id,
            attempt: task.attempt,
            worker: self.id,
        })
        .await;
        taken.delivery.ack().await.unwrap();
    }

    /// Publish an event on the results queue, as its own broker user.
    async fn say(&self, event: &WorkerEvent) {
        self.broker
            .publish(vec![Outgoing {
                queue: queues::RESULTS.to_owned(),
                payload: serde_json::to_vec(event).unwrap(),
                priority: 0,
            }])
            .await
            .expect("the results queue takes its events");
    }
}

/// A grey 32-bit float RGBA EXR of `size`, as bytes.
fn plain_exr(dir: &std::path::Path, (width, height): (u32, u32)) -> Vec<u8> {
    let path = dir.join("plain.exr");
    exr::prelude::write_rgba_file(&path, width as usize, height as usize, |_, _| {
        (0.5f32, 0.5f32, 0.5f32, 1.0f32)
    })
    .expect("EXR written");
    std::fs::read(path).unwrap()
}

/// Every worker's payout, as an admin reads them.
async fn payouts(app: &TestApp) -> Vec<Payout> {
    app.http
        .get(format!("{}/api/v1/payouts", app.api))
        .send()
        .await
        .expect("payouts asked")
        .json()
        .await
        .expect("payouts")
}

/// A worker as the API lists it.
fn worker_view<'a>(workers: &'a [Value], name: &str) -> &'a Value {
    workers
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("{name} listed: {workers:?}"))
}

/// Wait until the API lists the workers `names` online.
async fn wait_online(app: &TestApp, names: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let workers = app.workers().await;
        let online = |name: &&str| {
            workers
                .iter()
                .any(|w| w["name"] == *name && w["state"] == "online")
        };
        if names.iter().all(online) {
            return workers;
        }
        assert!(
            Instant::now() < deadline,
            "workers did not come online: {workers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_worker_is_refused_everything_and_paid_nothing() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let app = TestApp::start(test_config(
        dir.path(),
        vhost.queue_config(),
        s3.store_config(),
    ))
    .await;
    let honest = [
        WorkerProcess::spawn(&app, "honest-a", dir.path()).await,
        WorkerProcess::spawn(&app, "honest-b", dir.path()).await,
    ];
    // Enrolling takes a valid token, once.
    let enroll = |token: String| {
        let url = format!("{}/api/v1/workers/enroll", app.api);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&EnrollRequest {
                    token,
                    name: "guesser".into(),
                })
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let guessed = format!("rf_{}_{}", "0".repeat(12), "0".repeat(64));
    assert_eq!(enroll(guessed).await, 401);
    let once = app.enrollment_token("mallory").await;
    assert_eq!(enroll(once.expose().to_owned()).await, 201);
    assert_eq!(
        enroll(once.expose().to_owned()).await,
        401,
        "a used-up token"
    );
    let hostile = Hostile::enroll(&app).await;
    let workers = wait_online(&app, &["honest-a", "honest-b"]).await;
    let honest_ids: Vec<WorkerId> = ["honest-a", "honest-b"]
        .iter()
        .map(|name| {
            worker_view(&workers, name)["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();

    // The broker itself refuses another worker's queues and the task queues.
    let victim = honest_ids[0];
    for queue in [queues::worker_tasks(victim), queues::worker_control(victim)] {
        assert!(
            hostile
                .broker
                .consume(std::slice::from_ref(&queue), 1)
                .await
                .is_err(),
            "the broker let it consume {queue}"
        );
    }
    for queue in [
        queues::tasks(Renderer::Blender),
        queues::worker_tasks(victim),
    ] {
        let fake = Outgoing {
            queue: queue.clone(),
            payload: b"{}".to_vec(),
            priority: 0,
        };
        assert!(
            hostile.broker.publish(vec![fake]).await.is_err(),
            "the broker let it publish to {queue}"
        );
    }

    // The API: a provider token sees no job, reinstates nobody.
    let provider = app.client_as(&app.provider("mallory").await);
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-4", "chunk_size": 1,
                       "parity_percent": 100, "overrides": {"resolution": [80, 45]}}),
        )
        .await;
    let status = |response: reqwest::Response| response.status().as_u16();
    let shown = provider
        .get(format!("{}/api/v1/jobs/{}", app.api, job.id))
        .send()
        .await
        .unwrap();
    assert_eq!(status(shown), 403);
    let reinstated = provider
        .post(format!(
            "{}/api/v1/workers/{}/reinstate",
            app.api, hostile.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(status(reinstated), 403);

    // It takes one shared task itself and lies about it.
    let (task, taken) = hostile.take_task().await;
    let frame = task.frames[0];
    // Storage grants only for the attempt it holds, and only its frames.
    let others = app
        .http
        .get(format!("{}/api/v1/jobs/{}", app.api, job.id))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let other_task: TaskId = others["frame_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task_id"].as_str().unwrap().parse().unwrap())
        .find(|t| *t != task.task_id)
        .unwrap();
    let other_frame = GrantObject::Frame { frame: frame + 1 };
    for (task_id, object) in [
        (other_task, GrantObject::Scene),
        (task.task_id, other_frame),
    ] {
        let refused = hostile.grant(task_id, task.attempt, object.clone()).await;
        assert!(
            refused.is_err(),
            "granted {object:?} of {task_id}: {refused:?}"
        );
    }
    let granted = hostile
        .grant(task.task_id, task.attempt, GrantObject::Frame { frame })
        .await
        .expect("its own frame's upload is granted");
    assert!(
        granted
            .key
            .starts_with(&format!("uploads/{}/{frame}/", task.job_id)),
        "{granted:?}"
    );
    // Where another worker's copy would be: refused.
    let foreign = format!("renders/{}/{frame}/0-{victim}.exr", task.job_id);
    let foreign = hostile.claim(&task, foreign, 3600.0, RenderDevice::Gpu);
    hostile.say(&WorkerEvent::FrameDone(foreign)).await;
    // At its granted key, never uploaded, an hour on a GPU: taken as a
    // claim, then found missing.
    let own = hostile.claim(&task, granted.key.clone(), 3600.0, RenderDevice::Gpu);
    hostile.say(&WorkerEvent::FrameDone(own.clone())).await;
    // The same result again: a replay.
    hostile.say(&WorkerEvent::FrameDone(own)).await;
    hostile.finish(&task, taken).await;

    // It speaks for the honest workers.
    for &worker in &honest_ids {
        hostile
            .say(&WorkerEvent::Heartbeat(Heartbeat {
                worker,
                task_id: None,
                attempt: None,
                frame: None,
                progress: None,
                sent_at_ms: protocol::now_ms(),
            }))
            .await;
        hostile.say(&WorkerEvent::Leaving { worker }).await;
        for attempt in 1..=3 {
            hostile
                .say(&WorkerEvent::TaskFailed(TaskFailed {
                    task_id: task.task_id,
                    attempt,
                    worker,
                    error: "forged failure".into(),
                    log_tail: String::new(),
                }))
                .await;
        }
    }

    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    for frame in &done.frame_list {
        assert_eq!(frame.state, FrameState::Done, "{frame:?}");
        assert_eq!(frame.verification, CheckState::Verified, "{frame:?}");
        assert!(
            honest_ids.contains(&frame.worker_id.expect("a worker")),
            "frame {} is the hostile worker's",
            frame.frame
        );
    }
    let verdicts: Vec<Value> = app
        .http
        .get(format!("{}/api/v1/jobs/{}/verdicts", app.api, job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        verdicts
            .iter()
            .filter(|v| v["worker_a"] != hostile.id.to_string()
                && v["worker_b"] != hostile.id.to_string())
            .all(|v| v["verdict"] == "identical"),
        "{verdicts:?}"
    );

    let workers = app.workers().await;
    let mallory = worker_view(&workers, "mallory");
    let refused = mallory["reputation"]["refused_events"].as_u64().unwrap();
    assert!(
        refused >= 2 + 2 + 5 * 2,
        "refusals counted against it: {mallory}"
    );
    assert_eq!(
        mallory["reputation"]["strikes"], 1,
        "its missing frame: {mallory}"
    );
    for name in ["honest-a", "honest-b"] {
        let view = worker_view(&workers, name);
        assert_eq!(view["state"], "online", "nobody made it leave: {view}");
        assert_eq!(view["reputation"]["refused_events"], 0, "{view}");
        assert_eq!(view["reputation"]["strikes"], 0, "{view}");
    }
    let payouts = payouts(&app).await;
    let hostile_pay = payouts
        .iter()
        .find(|p| p.worker_id == hostile.id)
        .expect("its claim is listed");
    assert_eq!(hostile_pay.earned_micros, Money::ZERO);
    assert_eq!(hostile_pay.held_micros, Money::ZERO);
    assert_eq!(hostile_pay.frames_wrong, 1);
    for id in &honest_ids {
        let pay = payouts.iter().find(|p| p.worker_id == *id).expect("paid");
        assert!(pay.earned_micros > Money::ZERO, "{pay:?}");
        assert_eq!(pay.frames_wrong, 0);
    }
    for worker in honest {
        assert!(worker.terminate().await.success());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_never_uploaded_is_caught_without_parity() {
    let Some((vhost, s3, dir)) = real_services().await else {
        return;
    };
    let app = TestApp::start(test_config(
        dir.path(),
        vhost.queue_config(),
        s3.store_config(),
    ))
    .await;
    let hostile = Hostile::enroll(&app).await;
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(
            json!({"scene": hash, "renderer": "blender", "frames": "1-3", "chunk_size": 1,
                       "parity_percent": 0, "overrides": {"resolution": [80, 45]}}),
        )
        .await;
    // It takes the first task before any honest worker is up, and reports
    // a frame it never uploaded, at the key it was granted.
    let (task, taken) = hostile.take_task().await;
    let object = GrantObject::Frame {
        frame: task.frames[0],
    };
    let granted = hostile.grant(task.task_id, task.attempt, object).await;
    let claim = hostile.claim(&task, granted.unwrap().key, 1.0, RenderDevice::Cpu);
    hostile.say(&WorkerEvent::FrameDone(claim)).await;
    hostile.finish(&task, taken).await;
    // It renders the second one (a plain frame of the right size, which
    // passes unreplicated), and keeps its upload grant.
    let (second, taken) = hostile.take_task().await;
    let object = GrantObject::Frame {
        frame: second.frames[0],
    };
    let upload = hostile
        .grant(second.task_id, second.attempt, object)
        .await
        .unwrap();
    let exr = plain_exr(dir.path(), (80, 45));
    let put = |bytes: Vec<u8>| {
        let url = upload.url.clone();
        async move { reqwest::Client::new().put(url).body(bytes).send().await }
    };
    assert!(put(exr.clone()).await.unwrap().status().is_success());
    let mut delivered = hostile.claim(&second, upload.key.clone(), 1.0, RenderDevice::Cpu);
    delivered.bytes = exr.len() as u64;
    delivered.pixel_hash = frame_diff::read_image_bytes(&exr, std::path::Path::new("f.exr"))
        .unwrap()
        .pixel_hash()
        .to_hex()
        .to_string();
    hostile.say(&WorkerEvent::FrameDone(delivered)).await;
    hostile.finish(&second, taken).await;
    let honest = WorkerProcess::spawn(&app, "honest", dir.path()).await;

    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    for frame in &done.frame_list {
        assert_eq!(frame.state, FrameState::Done);
        let hostiles = frame.frame == second.frames[0];
        assert_eq!(frame.worker_id == Some(hostile.id), hostiles, "{frame:?}");
    }
    // The accepted copy is the coordinator's: writing the upload key again,
    // with the grant still good, changes nothing anyone downloads.
    assert_eq!(app.download(job.id, second.frames[0]).await, exr);
    let _ = put(b"not the frame it delivered".to_vec()).await;
    assert_eq!(app.download(job.id, second.frames[0]).await, exr);
    let workers = app.workers().await;
    let mallory = worker_view(&workers, "mallory");
    assert_eq!(mallory["reputation"]["strikes"], 1, "{mallory}");
    let payouts = payouts(&app).await;
    let hostile_pay = payouts.iter().find(|p| p.worker_id == hostile.id).unwrap();
    assert_eq!(hostile_pay.frames_wrong, 1);
    assert!(
        hostile_pay
            .earned_micros
            .checked_add(hostile_pay.held_micros)
            .unwrap()
            > Money::ZERO,
        "the frame it did deliver is paid: {hostile_pay:?}"
    );
    assert!(honest.terminate().await.success());
    app.stop().await;
}
