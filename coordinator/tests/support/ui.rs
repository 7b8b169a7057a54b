//! The web UI as a signed-in browser sees it, without a browser: a session
//! cookie from the sign-in form, and pages fetched with it; and one-time
//! sign-in links for the browser tests.

use super::TestApp;

/// Sign in to the web UI with `token`; the session cookie (`name=value`).
pub async fn sign_in(app: &TestApp, token: &str) -> String {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("token", token), ("next", "/ui/jobs")])
        .finish();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/ui/login", app.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// GET a UI page with `cookie`: status and HTML.
pub async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.api))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A one-time sign-in link for the holder of `http`'s token.
pub async fn sign_in_link(app: &TestApp, http: &reqwest::Client) -> String {
    let link: serde_json::Value = http
        .post(format!("{}/api/v1/sign-in-links", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("{}{}", app.api, link["path"].as_str().unwrap())
}
