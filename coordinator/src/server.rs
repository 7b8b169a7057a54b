//! Starting and stopping the coordinator.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::auth::Bootstrap;
use crate::config::Config;
use crate::db::Db;
use crate::farm::Farm;
use crate::{Error, api};

/// Open the database, connect to the queue and the object store.
pub async fn open(config: Config) -> Result<Farm, Error> {
    let db = Db::open(&config.database)?;
    let broker = queue::connect(&config.queue).await?;
    let storage = storage::open_granting(&config.store, config.grants.public_url.clone())?;
    open_with(config, db, broker, storage).await
}

/// Assemble a farm from parts already opened (the demo shares the broker
/// with in-process workers), storing the configured admin token.
pub async fn open_with(
    config: Config,
    db: Db,
    broker: Arc<dyn queue::Broker>,
    storage: storage::GrantingStore,
) -> Result<Farm, Error> {
    if let Some(token) = config.auth.admin_token.clone() {
        let id = token.id();
        match db.call(move |db| db.ensure_admin_token(&token)).await? {
            Bootstrap::Created => {
                tracing::info!(token_id = %id, "admin token from auth.admin_token stored")
            }
            Bootstrap::Present => {}
            Bootstrap::Revoked => tracing::warn!(
                token_id = %id,
                "auth.admin_token was revoked and stays revoked; configure a new one or use `coordinator token create --role admin`"
            ),
        }
    }
    Ok(Farm::new(config, db, broker, storage).await?)
}

/// Serve the API on `listener` and run the background loops until
/// `shutdown` completes; then stop accepting, finish in-flight requests and
/// stop the loops.
pub async fn run(
    listener: TcpListener,
    farm: Farm,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (notify, _) = broadcast::channel(1);
    let mut background = farm.spawn_background(&notify);
    let address = listener.local_addr().map_err(Error::Http)?;
    tracing::info!(%address, "coordinator listening");
    let base =
        url::Url::parse(&format!("http://{address}/")).expect("a socket address makes a URL");
    farm.storage.grants.serve_at(&base);
    let stop = notify.clone();
    let streams = farm.clone();
    axum::serve(listener, api::router(farm))
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            streams.stop_streams();
            let _ = stop.send(());
        })
        .await
        .map_err(Error::Http)?;
    let _ = notify.send(());
    while background.join_next().await.is_some() {}
    Ok(())
}
