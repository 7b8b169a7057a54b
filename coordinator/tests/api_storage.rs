//! The coordinator's own grants for a local-folder store, over real HTTP: a
//! grant is good for its one key and method until it expires, and nothing
//! else; a submitter's download is only of its own tenant's accepted frames.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use storage::{Access, ObjectPath};
use support::app::local_config;
use support::{TestApp, sample_scene};

/// A URL with its path replaced by `/storage/<key>`, its grant kept.
fn aimed_at(url: &url::Url, key: &str) -> url::Url {
    let mut other = url.clone();
    other.set_path(&format!("/storage/{key}"));
    other
}

/// The error code of a refused answer.
async fn code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn a_grant_opens_one_object_for_one_method() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let grants = &app.farm.storage.grants;
    let key = ObjectPath::from("uploads/job/1/nonce-0.exr");
    let put = grants
        .url(Access::Write, &key, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(put.as_str().starts_with(&app.api), "{put}");
    let http = reqwest::Client::new();

    let written = http
        .put(put.clone())
        .body("frame bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(written.status().as_u16(), 200);
    let stored = dir.path().join("store/uploads/job/1/nonce-0.exr");
    assert_eq!(std::fs::read(&stored).unwrap(), b"frame bytes");

    // The same grant at another key (an accepted copy, someone else's
    // upload), for reading, or without its signature: refused.
    for other in ["renders/job/1/0-nonce.exr", "uploads/job/1/other-0.exr"] {
        let refused = http
            .put(aimed_at(&put, other))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(code(refused).await, (403, "bad_grant".into()), "{other}");
    }
    let read = http.get(put.clone()).send().await.unwrap();
    assert_eq!(code(read).await, (403, "bad_grant".into()));
    let mut bare = put.clone();
    bare.set_query(None);
    let refused = http.put(bare).body("x").send().await.unwrap();
    assert_eq!(code(refused).await, (403, "no_grant".into()));
    let mut later = put.clone();
    let pairs: Vec<(String, String)> = put
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "expires" {
                "99999999999".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    later.query_pairs_mut().clear().extend_pairs(pairs);
    let refused = http.put(later).body("x").send().await.unwrap();
    assert_eq!(
        code(refused).await,
        (403, "bad_grant".into()),
        "an extended expiry"
    );
    assert_eq!(std::fs::read(&stored).unwrap(), b"frame bytes");

    let get = grants
        .url(Access::Read, &key, Duration::from_secs(60))
        .await
        .unwrap();
    let body = http.get(get).send().await.unwrap();
    assert_eq!(body.status().as_u16(), 200);
    assert_eq!(body.bytes().await.unwrap(), "frame bytes");
    app.stop().await;
}

#[tokio::test]
async fn downloads_are_of_a_tenants_own_accepted_frames() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(local_config(dir.path())).await;
    let alice = app.client_as(&app.submitter("alice").await);
    let bob = app.client_as(&app.submitter("bob").await);
    let scene = app.upload_as(&alice, &sample_scene()).await;
    let job = app
        .submit_as(
            &alice,
            json!({"scene": scene, "renderer": "blender", "frames": "1-2"}),
        )
        .await;
    let url = format!("{}/api/v1/jobs/{}/frames/1/download", app.api, job.id);
    let refused = bob.get(&url).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 404, "another tenant's job");
    let pending = alice.get(&url).send().await.unwrap();
    assert_eq!(code(pending).await, (409, "frame_not_accepted".into()));
    let anonymous = app.anonymous().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let bad = alice
        .get(format!(
            "{}/api/v1/jobs/{}/frames/one/download",
            app.api, job.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(code(bad).await, (400, "bad_frame_path".into()));
    app.stop().await;
}
