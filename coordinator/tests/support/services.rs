//! Real services for tests: an S3 server and a RabbitMQ virtual host.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a needed service is there: in CI a missing one panics (the test
/// fails); locally it returns false and the test skips, loudly.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false") {
        panic!("{what} is required in CI but is not available");
    }
    eprintln!("\n!!! SKIPPING: {what} is not available on this machine !!!\n");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A moto S3 server on a free port with one bucket, stopped on drop.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket created for the test.
    pub bucket: String,
}

impl S3Server {
    /// Start `moto_server` and create a bucket; None (locally) when moto is missing.
    pub async fn start() -> Option<Self> {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if !require("moto_server (pip install 'moto[server]')", child.is_ok()) {
            return None;
        }
        let server = Self {
            child: child.expect("checked"),
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: "renders".into(),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http
                .put(format!("{}/{}", server.endpoint, server.bucket))
                .send()
                .await
                && response.status().is_success()
            {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A store configuration pointing at this server.
    pub fn store_config(&self) -> storage::StoreConfig {
        storage::StoreConfig {
            url: format!("s3://{}", self.bucket),
            endpoint: Some(self.endpoint.clone()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            allow_http: true,
            ..storage::StoreConfig::default()
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private RabbitMQ virtual host, so tests running at once never share
/// queues; deleted on drop.
pub struct RabbitVhost {
    /// The vhost name.
    pub name: String,
}

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl RabbitVhost {
    /// Create a vhost the guest user may use; None (locally) without RabbitMQ.
    pub fn create() -> Option<Self> {
        let up = std::net::TcpStream::connect("127.0.0.1:5672").is_ok();
        if !require("RabbitMQ on 127.0.0.1:5672", up) {
            return None;
        }
        let name = format!("test-{}", uuid::Uuid::new_v4().simple());
        let made = rabbitmqctl(&["add_vhost", &name])
            && rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        assert!(made, "rabbitmqctl could not create vhost {name}");
        Some(Self { name })
    }

    /// The AMQP URL of this vhost.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    /// A queue configuration pointing at this vhost.
    pub fn queue_config(&self) -> queue::QueueConfig {
        toml::from_str(&format!(
            "kind = \"rabbitmq\"\nurl = \"{}\"\nreconnect_secs = 30",
            self.url()
        ))
        .expect("valid queue config")
    }
}

impl Drop for RabbitVhost {
    fn drop(&mut self) {
        rabbitmqctl(&["delete_vhost", &self.name]);
    }
}
