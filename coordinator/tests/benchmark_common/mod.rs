//! Helpers the benchmark tests share: node classes defined as an admin
//! does, the benchmark API as JSON, the report polled until complete, the
//! web UI signed in to, and a studio's reference rendered with Blender and
//! uploaded.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use protocol::{ExrDepth, Overrides, RenderDevice};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub use crate::support::ui::{page, sign_in};
use crate::support::{TestApp, sample_scene};

/// Define node class `name` (CPU) at `price` a second, as an admin does.
/// The price is sent as a decimal string; a coordinator that takes it in
/// micro-units (`price_micros_per_second`) gets it so.
pub async fn define_class(app: &TestApp, name: &str, price: &str) {
    let url = format!("{}/api/v1/node-classes/{name}", app.api);
    let put = |body: Value| app.http.put(&url).json(&body).send();
    let response = put(json!({"device": "cpu", "price_per_second": price}))
        .await
        .unwrap();
    if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        let micros = (price.parse::<f64>().unwrap() * 1e6).round() as i64;
        let response = put(json!({"device": "cpu", "price_micros_per_second": micros}))
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "node class {name}: {}",
            response.text().await.unwrap()
        );
    } else {
        assert!(
            response.status().is_success(),
            "node class {name}: {}",
            response.text().await.unwrap()
        );
    }
}

/// GET `path` as the admin: status and JSON.
pub async fn get_json(app: &TestApp, http: &reqwest::Client, path: &str) -> (StatusCode, Value) {
    let response = http.get(format!("{}{path}", app.api)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POST a benchmark as the admin: status and JSON.
pub async fn post_benchmark(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let response = app
        .http
        .post(format!("{}/api/v1/benchmarks", app.api))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Poll the benchmark's report until it is complete (every run ended,
/// every comparable frame compared).
pub async fn wait_complete(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (status, report) = get_json(app, &app.http, &format!("/api/v1/benchmarks/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        if report["complete"] == true {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "benchmark {id} did not complete: {report:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Render `frames` of the sample scene into `dir` as `ref_####.exr`, with
/// the settings script a worker runs Blender with; the files, in order.
pub async fn render_reference(dir: &Path, frames: &[i32]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let script = worker::blender::command::settings_script(
        ExrDepth::default(),
        &Overrides::default(),
        RenderDevice::Cpu,
    );
    let list: Vec<String> = frames.iter().map(i32::to_string).collect();
    let output = tokio::process::Command::new("blender")
        .args(["-b", "--factory-startup", "--disable-autoexec"])
        .arg(sample_scene())
        .args(["--python-exit-code", "1", "--python-expr", &script, "-o"])
        .arg(dir.join("ref_####"))
        .args(["-F", "OPEN_EXR", "-f", &list.join(",")])
        .output()
        .await
        .expect("blender runs");
    assert!(
        output.status.success(),
        "blender rendered the reference: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    frames
        .iter()
        .map(|frame| {
            let path = dir.join(format!("ref_{frame:04}.exr"));
            assert!(path.exists(), "{} rendered", path.display());
            path
        })
        .collect()
}

/// PUT `bytes` as reference `frame` of benchmark `id` with `http`: status
/// and JSON.
pub async fn put_reference(
    app: &TestApp,
    http: &reqwest::Client,
    id: &str,
    frame: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let response = http
        .put(format!(
            "{}/api/v1/benchmarks/{id}/reference/{frame}",
            app.api
        ))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The parity status of every frame of run 0.
pub fn statuses(report: &Value) -> Vec<String> {
    report["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row["runs"][0]["parity"]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Whether `status` is a match: identical, or within tolerance.
pub fn matches(status: &str) -> bool {
    matches!(status, "identical" | "within_tolerance")
}
