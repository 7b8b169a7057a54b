//! `GET /api/v1/events`, the change feed as Server-Sent Events: a submitter
//! sees its own tenant's job and frame changes with the states before and
//! after and never another tenant's; `Last-Event-ID` resumes where a stream
//! left off; a job filter on someone else's job is a 404, and on a
//! provider's token a 403; the stream ends when the coordinator stops, so
//! shutdown is not held up.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, sample_scene};

/// Longest wait for an expected event; a stream that stays silent fails
/// the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct SseEvent {
    event: String,
    id: Option<String>,
    data: Value,
}

/// An open event stream, read event by event.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    /// Open `GET /api/v1/events{query}` as `http`, optionally resuming
    /// after `last_id`; panics unless it is a 200 event stream.
    async fn open(
        app: &TestApp,
        http: &reqwest::Client,
        query: &str,
        last_id: Option<&str>,
    ) -> Self {
        let mut request = http.get(format!("{}/api/v1/events{query}", app.api));
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, `None` when the stream ended.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event.event = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("id:") {
                        event.id = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if data.is_empty() {
                    // A keep-alive comment.
                    continue;
                }
                event.data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(event);
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event within the patience")
                .expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk?));
        }
    }

    /// Events until one satisfies `wanted`, which is returned; panics if the
    /// stream ends first.
    async fn until(&mut self, wanted: impl Fn(&SseEvent) -> bool) -> (Vec<SseEvent>, SseEvent) {
        let mut before = Vec::new();
        while let Some(event) = self.next().await {
            if wanted(&event) {
                return (before, event);
            }
            before.push(event);
        }
        panic!("the stream ended; events so far: {before:?}");
    }
}

/// Submit a three-frame job of the sample scene as `http`; its id.
async fn submit(app: &TestApp, http: &reqwest::Client, name: &str) -> String {
    let scene = app.upload_as(http, &sample_scene()).await;
    let job = app
        .submit_as(
            http,
            json!({"name": name, "scene": scene, "renderer": "blender", "frames": "1-3"}),
        )
        .await;
    job.id.to_string()
}

/// POST a job control as `http`.
async fn control(app: &TestApp, http: &reqwest::Client, job: &str, action: &str) {
    let response = http
        .post(format!("{}/api/v1/jobs/{job}/{action}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{action} refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitter_follows_its_own_jobs_only_and_resumes_where_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let alice = app.client_as(&app.submitter("alice").await);
    let bob = app.client_as(&app.submitter("bob").await);

    let mut alice_events = Stream::open(&app, &alice, "", None).await;
    let (_, ready) = alice_events.until(|e| e.event == "ready").await;
    let mut bob_events = Stream::open(&app, &bob, "", None).await;
    bob_events.until(|e| e.event == "ready").await;

    let job = submit(&app, &alice, "alice's shot").await;
    let (_, created) = alice_events.until(|e| e.event == "job").await;
    assert_eq!(created.data["job_id"], job.as_str());
    assert_eq!(created.data["now"], "queued");
    assert!(created.data["was"].is_null(), "{created:?}");

    control(&app, &alice, &job, "cancel").await;
    let (_, cancelled) = alice_events
        .until(|e| e.event == "job" && e.data["now"] == "cancelled")
        .await;
    assert_eq!(cancelled.data["was"], "queued");
    // Resuming from the first stream's start replays it all: the job's
    // changes and every frame's, with the states before and after.
    let mut replay = Stream::open(&app, &alice, "", ready.id.as_deref()).await;
    let mut replayed = Vec::new();
    while replayed
        .iter()
        .filter(|e: &&SseEvent| e.event == "frame")
        .count()
        < 3
    {
        replayed.push(replay.next().await.expect("the replay goes on"));
    }
    assert_eq!(replayed[0].event, "ready");
    assert_eq!(replayed[1].data["job_id"], job.as_str());
    assert!(
        replayed
            .iter()
            .any(|e| e.event == "job" && e.data["now"] == "cancelled")
    );
    let frames: Vec<_> = replayed.iter().filter(|e| e.event == "frame").collect();
    for frame in &frames {
        assert_eq!(frame.data["job_id"], job.as_str());
        assert_eq!(frame.data["was"], "pending");
        assert_eq!(frame.data["now"], "cancelled");
        assert_eq!(frame.data["was_check"], "unchecked");
    }
    let ids: Vec<i64> = replayed
        .iter()
        .filter_map(|e| e.id.as_deref()?.parse().ok())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");

    // Bob's stream saw none of that: its first change is his own job.
    let bobs = submit(&app, &bob, "bob's shot").await;
    let (skipped, first) = bob_events.until(|e| e.event != "ready").await;
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(first.event, "job");
    assert_eq!(first.data["job_id"], bobs.as_str());

    // Following one job: another tenant's is not found.
    let response = bob
        .get(format!("{}/api/v1/events?job={job}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = bob
        .get(format!("{}/api/v1/events", app.api))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_last_event_id");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_see_their_workers_not_jobs_and_strangers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let provider = app.client_as(&app.provider("acme-gpus").await);
    let alice = app.client_as(&app.submitter("alice").await);
    let job = submit(&app, &alice, "shot").await;

    let response = provider
        .get(format!("{}/api/v1/events?job={job}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = app
        .anonymous()
        .get(format!("{}/api/v1/events", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // From the start of the feed: a provider sees no job change at all.
    let mut events = Stream::open(&app, &provider, "?after=0", None).await;
    let (_, ready) = events.until(|e| e.event == "ready").await;
    assert_eq!(ready.data["after"], 0);
    let token = app.enrollment_token("acme-gpus").await;
    app.farm.enroll(&token, "gpu-1").await.unwrap();
    let (skipped, worker) = events.until(|e| e.event != "ready").await;
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(worker.event, "worker", "{worker:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_ends_when_the_coordinator_stops() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let mut events = Stream::open(&app, &app.http, "", None).await;
    events.until(|e| e.event == "ready").await;
    tokio::time::timeout(PATIENCE, app.stop())
        .await
        .expect("shutdown is not held up by an open stream");
    assert!(events.next().await.is_none(), "the stream ended");
}
