//! Token management: revoked and expired tokens stop working, the token
//! routes check what they are given, tokens are listed without secrets and
//! stored as hashes, and `coordinator token …` works on the database of a
//! running coordinator.

use std::path::Path;

use coordinator::auth::{Grant, Token, TokenRequest};
use coordinator::db::Db;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{expect_error, expect_unauthenticated, start};

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let (app, _dir) = start().await;
    let jobs = format!("{}/api/v1/jobs", app.api);
    let answer = app
        .create_token(
            json!({"role": "submitter", "tenant": "acme", "label": "ci", "expires_in_days": 30}),
        )
        .await;
    let expires = answer["expires_ms"].as_i64().unwrap() - answer["created_ms"].as_i64().unwrap();
    assert_eq!(expires, 30 * 86_400_000);
    let client = app.client_as(answer["token"].as_str().unwrap());
    assert_eq!(
        client.get(&jobs).send().await.unwrap().status(),
        StatusCode::OK
    );
    let id = answer["id"].as_str().unwrap();
    let revoked: Value = app
        .http
        .post(format!("{}/api/v1/tokens/{id}/revoke", app.api))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(revoked["revoked_ms"].is_i64(), "{revoked}");
    let message = expect_unauthenticated(client.get(&jobs).send().await.unwrap()).await;
    assert!(
        message.contains("revoked") && message.contains(id),
        "{message}"
    );

    // An expired token, stored straight into the app's database.
    let db = Db::open(&app.config.database).unwrap();
    let token = Token::generate().unwrap();
    let request = TokenRequest {
        grant: Grant::Admin,
        label: "old".into(),
        expires_ms: Some(protocol::now_ms() - 1_000),
        created_ms: protocol::now_ms() - 2_000,
    };
    db.insert_token(&token, &request).unwrap();
    let message = expect_unauthenticated(
        app.client_as(token.expose())
            .get(&jobs)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(message.contains("expired"), "{message}");

    expect_error(
        app.http
            .post(format!("{}/api/v1/tokens/nothex/revoke", app.api))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_token_id",
    )
    .await;
    expect_error(
        app.http
            .post(format!("{}/api/v1/tokens/0123456789ab/revoke", app.api))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for bad in [
        json!({"role": "submitter"}),
        json!({"role": "provider", "tenant": "acme"}),
        json!({"role": "admin", "owner": "bob"}),
        json!({"role": "submitter", "tenant": "no spaces"}),
        json!({"role": "admin", "expires_in_days": 0}),
    ] {
        let response = app
            .http
            .post(format!("{}/api/v1/tokens", app.api))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    app.stop().await;
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_stored_as_hashes() {
    let (app, _dir) = start().await;
    let answer = app
        .create_token(json!({"role": "provider", "owner": "Bob's GPUs", "label": "bob"}))
        .await;
    let token = Token::parse(answer["token"].as_str().unwrap()).unwrap();
    assert_eq!(answer["id"], token.id().as_str());
    assert_eq!(answer["role"], "provider");
    assert_eq!(answer["owner"], "Bob's GPUs");
    let listed: Vec<Value> = app
        .http
        .get(format!("{}/api/v1/tokens", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "the admin's and bob's: {listed:?}");
    let text = serde_json::to_string(&listed).unwrap();
    for secret in [token.expose(), app.admin_token.expose()] {
        assert!(!text.contains(&secret[16..]), "a secret is listed: {text}");
    }
    assert!(
        listed
            .iter()
            .all(|t| t.get("token").is_none() && t.get("hash").is_none())
    );
    let bobs = listed
        .iter()
        .find(|t| t["id"] == token.id().as_str())
        .unwrap();
    assert_eq!(
        (&bobs["role"], &bobs["owner"], &bobs["label"]),
        (&json!("provider"), &json!("Bob's GPUs"), &json!("bob"))
    );

    let conn = rusqlite::Connection::open(&app.config.database).unwrap();
    let hash: String = conn
        .query_row(
            "SELECT hash FROM tokens WHERE id = ?1",
            [token.id().as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        hash,
        blake3::hash(token.expose().as_bytes()).to_hex().as_str()
    );
    drop(conn);
    // No byte of the database (or its write-ahead log) holds a secret.
    for file in ["coordinator.sqlite", "coordinator.sqlite-wal"] {
        let path = app.config.database.with_file_name(file);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for secret in [token.expose(), app.admin_token.expose()] {
            let secret = &secret.as_bytes()[16..];
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a token secret",
                path.display()
            );
        }
    }
    app.stop().await;
}

/// `coordinator token …`, on the database a running coordinator uses when
/// `config` names it.
fn cli(config: Option<&Path>, args: &[&str]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_coordinator"));
    command.arg("token").args(args);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let out = command
        .env("RUST_LOG", "warn")
        .env_remove("FARM_ADMIN_TOKEN")
        .output()
        .expect("the coordinator binary runs");
    assert!(
        out.status.success(),
        "token {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_token_command_creates_lists_and_revokes_on_a_running_coordinator() {
    let (app, dir) = start().await;
    let config = dir.path().join("coordinator.toml");
    std::fs::write(
        &config,
        format!(
            "database = {:?}\n",
            app.config.database.display().to_string()
        ),
    )
    .unwrap();
    let created = cli(
        Some(&config),
        &[
            "create",
            "--role",
            "submitter",
            "--tenant",
            "acme",
            "--label",
            "from cli",
            "--expires-in-days",
            "7",
        ],
    );
    let token = Token::parse(created.trim()).expect("only the token on stdout");
    let client = app.client_as(token.expose());
    let jobs = format!("{}/api/v1/jobs", app.api);
    assert_eq!(
        client.get(&jobs).send().await.unwrap().status(),
        StatusCode::OK
    );

    let listed = cli(Some(&config), &["list"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with(token.id().as_str()))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.contains("submitter") && line.contains("acme") && line.contains("from cli"),
        "{line}"
    );
    assert!(listed.contains(app.admin_token.id().as_str()), "{listed}");
    for secret in [token.expose(), app.admin_token.expose()] {
        assert!(!listed.contains(&secret[16..]), "{listed}");
    }

    let revoked = cli(Some(&config), &["revoke", token.id().as_str()]);
    assert!(revoked.contains("Revoked"), "{revoked}");
    expect_unauthenticated(client.get(&jobs).send().await.unwrap()).await;
    let generated = cli(None, &["generate"]);
    Token::parse(generated.trim()).expect("a well-formed token");
    app.stop().await;
}
