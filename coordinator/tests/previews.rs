//! Previews end to end on one machine (embedded queue, local-folder store,
//! in-process workers running real Blender on the 160x90 sample scene):
//! every delivered copy gets a thumbnail and a full-size PNG made by the
//! coordinator from its own copy, served to the job's tenant only, and a
//! parity comparison leaves its heat map beside them.

mod support;

use std::time::{Duration, Instant};

use coordinator::model::VerdictView;
use coordinator::state::{CheckState, JobState};
use serde_json::{Value, json};
use support::app::local_config;
use support::{TestApp, blender_ready, sample_scene};

/// How long a preview may take to appear after its job is done.
const PREVIEW_WAIT: Duration = Duration::from_secs(60);

/// The PNG at `url`, polled while the API answers `404 no_preview` (the
/// previews are made in the background), for at most [`PREVIEW_WAIT`].
async fn wait_png(http: &reqwest::Client, url: &str) -> Vec<u8> {
    let deadline = Instant::now() + PREVIEW_WAIT;
    loop {
        let response = http.get(url).send().await.expect("preview asked");
        if response.status() == 200 {
            let headers = response.headers().clone();
            assert_eq!(headers["content-type"], "image/png");
            assert_eq!(headers["cache-control"], "private, max-age=3600");
            let bytes = response.bytes().await.expect("PNG bytes").to_vec();
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{url} is a PNG");
            return bytes;
        }
        assert_eq!(response.status(), 404, "{url}");
        let body: Value = response.json().await.expect("an error document");
        assert_eq!(body["error"]["code"], "no_preview", "{body}");
        assert!(
            Instant::now() < deadline,
            "{url} still missing after {PREVIEW_WAIT:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Width and height of a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let image = frame_diff::read_image_bytes(bytes, std::path::Path::new("preview.png"))
        .expect("the PNG decodes");
    (image.width, image.height)
}

/// An error answer's status and code.
async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("an error document");
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_copy_gets_previews_that_only_its_tenant_sees() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let worker = app.spawn_in_process_worker("previewed", dir.path());
    let alice = app.client_as(&app.submitter("studio-a").await);
    let bob = app.client_as(&app.submitter("studio-b").await);
    let hash = app.upload_as(&alice, &sample_scene()).await;
    let job = app
        .submit_as(
            &alice,
            json!({"scene": hash, "renderer": "blender", "frames": "1-2", "chunk_size": 2}),
        )
        .await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");

    for frame in &done.frame_list {
        let base = format!(
            "{}/api/v1/jobs/{}/frames/{}/copies/{}/preview",
            app.api, job.id, frame.frame, frame.replica
        );
        let thumb = wait_png(&alice, &base).await;
        assert_eq!(
            png_size(&thumb),
            (160, 90),
            "a frame smaller than the thumbnail is not scaled up"
        );
        assert_eq!(wait_png(&alice, &format!("{base}?size=thumb")).await, thumb);
        let full = wait_png(&alice, &format!("{base}?size=full")).await;
        assert_eq!(png_size(&full), (160, 90));

        // The thumbnail is the accepted EXR tone-mapped, exactly.
        let exr = app.download(job.id, frame.frame).await;
        let decoded = frame_diff::read_image_bytes(&exr, std::path::Path::new("f.exr")).unwrap();
        let shown = frame_diff::preview::tone_map(&decoded, 0.0, Some(256)).unwrap();
        assert_eq!(thumb, frame_diff::preview::encode_png(&shown).unwrap());
        assert!(
            shown.pixels().any(|p| p.0[..3] != [0, 0, 0]),
            "the preview shows the render"
        );

        assert_eq!(
            refusal(bob.get(&base).send().await.unwrap()).await,
            (404, "not_found".to_owned()),
            "another tenant does not learn the job exists"
        );
        assert_eq!(
            refusal(alice.get(format!("{base}?size=huge")).send().await.unwrap()).await,
            (400, "bad_preview_size".to_owned())
        );
    }
    let never = format!(
        "{}/api/v1/jobs/{}/frames/1/copies/9/preview",
        app.api, job.id
    );
    let response = alice.get(&never).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_preview");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("after a copy is delivered"),
        "{body}"
    );

    app.stop().await;
    worker.await.unwrap().expect("worker exits cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parity_comparison_leaves_its_heat_map() {
    if !blender_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let workers: Vec<_> = ["checked-1", "checked-2"]
        .iter()
        .map(|name| app.spawn_in_process_worker(name, dir.path()))
        .collect();
    let hash = app.upload(&sample_scene()).await;
    let job = app
        .submit(json!({"scene": hash, "renderer": "blender", "frames": "1",
                       "parity_percent": 100}))
        .await;
    let done = app.wait_final(job.id, Duration::from_secs(300)).await;
    assert_eq!(done.job.state, JobState::Done, "{done:?}");
    assert_eq!(done.frame_list[0].verification, CheckState::Verified);
    let verdicts: Vec<VerdictView> = app
        .http
        .get(format!("{}/api/v1/jobs/{}/verdicts", app.api, job.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let [verdict] = verdicts.as_slice() else {
        panic!("one comparison: {verdicts:?}");
    };
    let heatmap = |a: u32, b: u32| {
        format!(
            "{}/api/v1/jobs/{}/frames/1/heatmap?a={a}&b={b}",
            app.api, job.id
        )
    };
    let (a, b) = (verdict.replica_a, verdict.replica_b);
    let map = wait_png(&app.http, &heatmap(a, b)).await;
    assert_eq!(png_size(&map), (160, 90), "a heat map of the frame's size");
    assert_eq!(
        wait_png(&app.http, &heatmap(b, a)).await,
        map,
        "either order"
    );
    for copy in [a, b] {
        let preview = format!(
            "{}/api/v1/jobs/{}/frames/1/copies/{copy}/preview",
            app.api, job.id
        );
        assert_eq!(png_size(&wait_png(&app.http, &preview).await), (160, 90));
    }
    assert_eq!(
        refusal(app.http.get(heatmap(a, a)).send().await.unwrap()).await,
        (400, "bad_heatmap_pair".to_owned())
    );

    app.stop().await;
    for worker in workers {
        worker.await.unwrap().expect("worker exits cleanly");
    }
}
