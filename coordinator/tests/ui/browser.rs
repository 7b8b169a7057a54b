//! A real browser for the UI tests: Debian's Chromium, headless, driven
//! through its chromedriver over WebDriver (fantoccini). Waits are on
//! events in the page (a MutationObserver resolving a script), never on
//! sleeps; screenshots go under the target folder for people to look at.
//!
//! Each UI test crate uses a part of it, hence the allowance below.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The longest a page may take to show what a test waits for.
const PATIENCE_MS: u64 = 120_000;

/// A running chromedriver and a browser session on it.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
}

/// Whether Chromium and chromedriver are installed (fails the test in CI
/// when not, skips loudly elsewhere).
pub fn ready() -> bool {
    let found = ["chromium", "chromedriver"].iter().all(|program| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    crate::support::require(
        "Chromium and chromedriver (apt-get install -y chromium chromium-driver)",
        found,
    )
}

impl Browser {
    /// Start chromedriver on a free port and open a headless Chromium
    /// `width` x `height` pixels large.
    pub async fn start(width: u32, height: u32) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        // chromedriver says when it listens.
        let stdout = driver.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("chromedriver said it started").unwrap();
            if line.contains("started successfully") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", format!("--window-size={width},{height}")]
            },
            "timeouts": {"script": PATIENCE_MS, "pageLoad": PATIENCE_MS, "implicit": 0}
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a browser session");
        Self { client, driver }
    }

    /// Wait until the element `css` exists and `predicate` (JavaScript,
    /// given the element as `el`) is true, re-checked on every change of the
    /// page; the element's text then.
    pub async fn wait_until(&self, css: &str, predicate: &str) -> String {
        let script = format!(
            r#"const [css, done] = [arguments[0], arguments[arguments.length - 1]];
            const check = () => {{
                const el = document.querySelector(css);
                if (el && ({predicate})) {{ observer.disconnect(); done(el.textContent); return true; }}
                return false;
            }};
            const observer = new MutationObserver(check);
            if (!check()) observer.observe(document, {{subtree: true, childList: true, characterData: true, attributes: true}});"#
        );
        let started = std::time::Instant::now();
        let value = self
            .client
            .execute_async(&script, vec![json!(css)])
            .await
            .unwrap_or_else(|e| panic!("{css} never satisfied {predicate}: {e}"));
        eprintln!(
            "{css} {predicate}: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Wait until every image matching `css` (at least one) has loaded;
    /// their natural sizes, or a panic naming one that failed.
    pub async fn wait_images(&self, css: &str) -> Vec<(u64, u64)> {
        let script = r#"const [css, done] = [arguments[0], arguments[arguments.length - 1]];
            const images = [...document.querySelectorAll(css)];
            if (!images.length) { done({error: "no image matches " + css}); return; }
            Promise.all(images.map((img) => img.complete ? Promise.resolve() : new Promise((ok) => {
                img.addEventListener("load", ok, {once: true});
                img.addEventListener("error", ok, {once: true});
            }))).then(() => done(images.map((img) => [img.naturalWidth, img.naturalHeight, img.src])));"#;
        let value = self
            .client
            .execute_async(script, vec![json!(css)])
            .await
            .unwrap_or_else(|e| panic!("the images {css} never loaded: {e}"));
        let images = value.as_array().unwrap_or_else(|| panic!("{value}"));
        images
            .iter()
            .map(|image| {
                let (w, h) = (image[0].as_u64().unwrap(), image[1].as_u64().unwrap());
                assert!(w > 0 && h > 0, "the image {} did not load", image[2]);
                (w, h)
            })
            .collect()
    }

    /// Follow the one-time sign-in link `link` of the coordinator at `api`
    /// and wait until it has moved on to the jobs table.
    pub async fn sign_in(&self, link: &str, api: &str) {
        self.client.goto(link).await.unwrap();
        let jobs: url::Url = format!("{api}/ui/jobs").parse().unwrap();
        self.client
            .wait()
            .at_most(std::time::Duration::from_millis(PATIENCE_MS))
            .for_url(&jobs)
            .await
            .expect("the sign-in link leads to the jobs");
        self.wait_until("#jobs", "true").await;
    }

    /// Click the element `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Save a screenshot of the window as `name`.png; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Close the browser and stop chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
