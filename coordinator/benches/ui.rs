//! The web UI's figures: page weight of the jobs table and of a
//! 10,000-frame job page, the job page's time to first render in Debian's
//! Chromium (headless, through chromedriver), and how many change events
//! per second the live stream delivers, to a plain HTTP client and to the
//! page itself, when all 10,000 frames change at once (the job is
//! cancelled). Prints figures; asserts nothing about time.
//!
//! `cargo bench -p coordinator --bench ui`; needs chromium and
//! chromium-driver. `BENCH_FRAMES` (default 10000) sets the job's size.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use coordinator::auth::Token;
use coordinator::config::Config;
use fantoccini::ClientBuilder;
use serde_json::{Value, json};

/// Frame events in `text` (a piece of an SSE stream).
fn frame_events(text: &str) -> usize {
    text.matches("event: frame").count() + text.matches("event:frame").count()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let frames: usize = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let admin = Token::generate()?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        database: dir.path().join("coordinator.sqlite"),
        queue: queue::QueueConfig::Embedded {
            path: dir.path().join("queue.sqlite"),
        },
        store: storage::StoreConfig::local(&dir.path().join("store")),
        ..Config::default()
    };
    config.auth.admin_token = Some(admin.clone());
    let farm = coordinator::server::open(config.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let api = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(coordinator::server::run(listener, farm, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let bearer = format!("Bearer {}", admin.expose());
    let scene = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/sample.blend"
    ))?;
    let uploaded: Value = http
        .post(format!("{api}/api/v1/scenes?filename=sample.blend"))
        .header("authorization", &bearer)
        .header("content-type", "application/octet-stream")
        .body(scene)
        .send()
        .await?
        .json()
        .await?;
    let job: Value = http
        .post(format!("{api}/api/v1/jobs"))
        .header("authorization", &bearer)
        .json(
            &json!({"name": "ui bench", "scene": uploaded["hash"], "renderer": "blender",
            "frames": format!("1-{frames}"), "chunk_size": 1, "paused": true}),
        )
        .send()
        .await?
        .json()
        .await?;
    let id = job["id"].as_str().expect("a job id").to_owned();

    // Page weight, as a signed-in browser gets it.
    let link = |http: reqwest::Client, bearer: String, api: String| async move {
        let link: Value = http
            .post(format!("{api}/api/v1/sign-in-links"))
            .header("authorization", bearer)
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(format!("{api}{}", link["path"].as_str().expect("a path")))
    };
    let signed_in = http
        .get(link(http.clone(), bearer.clone(), api.clone()).await?)
        .send()
        .await?;
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .expect("a cookie")
        .to_owned();
    let weigh = |path: String| {
        let (http, cookie) = (http.clone(), cookie.clone());
        async move {
            let body = http
                .get(path)
                .header("cookie", cookie)
                .send()
                .await?
                .bytes()
                .await?;
            anyhow::Ok(body.len())
        }
    };
    let jobs_page = weigh(format!("{api}/ui/jobs")).await?;
    let job_page = weigh(format!("{api}/ui/jobs/{id}")).await?;
    let assets = weigh(format!("{api}/ui/assets/app.css")).await?
        + weigh(format!("{api}/ui/assets/app.js")).await?;
    println!("UI figures, a {frames}-frame job");
    println!(
        "  jobs page:                 {jobs_page} bytes HTML (+ {assets} bytes of CSS and JS, cached)"
    );
    println!("  job page:                  {job_page} bytes HTML");

    // Time to first render and the page's event rate, in Chromium.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(driver.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line?.contains("started successfully") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let Value::Object(capabilities) = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"]},
        "timeouts": {"script": 300_000}
    }) else {
        unreachable!("an object")
    };
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await?;
    browser
        .goto(&link(http.clone(), bearer.clone(), api.clone()).await?)
        .await?;
    browser.goto(&format!("{api}/ui/jobs/{id}")).await?;
    let timing = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            const wait = () => {
                const mark = performance.getEntriesByName("grid-drawn")[0];
                if (mark && document.body.dataset.live === "true") {
                    const nav = performance.getEntriesByType("navigation")[0];
                    done({grid: mark.startTime, response: nav.responseEnd});
                } else { setTimeout(wait, 5); }
            };
            wait();"#,
            vec![],
        )
        .await?;
    println!(
        "  job page, first render:    {:.0} ms to the grid drawn ({:.0} ms of it the HTML's arrival)",
        timing["grid"].as_f64().unwrap_or_default(),
        timing["response"].as_f64().unwrap_or_default()
    );

    // Every frame changes at once; a plain client and the page count them.
    let mut stream = http
        .get(format!("{api}/api/v1/events?job={id}"))
        .header("authorization", &bearer)
        .send()
        .await?;
    let first = stream.chunk().await?.unwrap_or_default();
    let mut seen = frame_events(&String::from_utf8_lossy(&first));
    let started = Instant::now();
    http.post(format!("{api}/api/v1/jobs/{id}/cancel"))
        .header("authorization", &bearer)
        .send()
        .await?
        .error_for_status()?;
    let mut rest = String::new();
    while seen < frames {
        let chunk = stream.chunk().await?.expect("the stream goes on");
        rest.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(end) = rest.rfind("\n\n") {
            seen += frame_events(&rest[..end]);
            rest.drain(..end + 2);
        }
    }
    let client_seconds = started.elapsed().as_secs_f64();
    let page = browser
        .execute_async(
            r#"const [want, done] = [arguments[0], arguments[arguments.length - 1]];
            const t0 = performance.now();
            const wait = () => window.farmEvents >= want ? done(performance.now() - t0) : setTimeout(wait, 5);
            wait();"#,
            vec![json!(frames)],
        )
        .await?;
    println!(
        "  live stream, HTTP client:  {frames} frame events in {client_seconds:.2} s = {:.0} events/s (cancel request to the last event)",
        frames as f64 / client_seconds
    );
    println!(
        "  live stream, the page:     all {frames} applied to the grid {:.0} ms after the client had them",
        page.as_f64().unwrap_or_default()
    );
    browser.close().await?;
    let _ = driver.kill();
    let _ = stop.send(());
    server.await??;
    Ok(())
}
