//! Starting and stopping the coordinator.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::auth::Bootstrap;
use crate::class_reference::ClassReference;
use crate::config::Config;
use crate::db::{CheckScene, Db};
use crate::farm::Farm;
use crate::{Error, api};
use protocol::{FrameSpec, SceneHash};

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
    let classes: Vec<_> = config
        .node_classes
        .iter()
        .map(|(name, class)| class.to_class(name))
        .collect();
    db.call(move |db| {
        classes
            .iter()
            .try_for_each(|class| db.seed_node_class(class))
    })
    .await?;
    let class_check = match &config.class_check.scene {
        Some(path) => Some(Arc::new(
            store_check_scene(&db, &storage, path, &config.class_check.frames).await?,
        )),
        None => None,
    };
    let class_reference = match (&class_check, &config.class_check.reference) {
        (Some(check), Some(dir)) => Some(Arc::new(
            ClassReference::load(dir, &check.frames, config.class_check.max_mean_flip).await?,
        )),
        (None, Some(_)) => {
            return Err(Error::ClassCheck(
                "class_check.reference needs class_check.scene, the scene it is a render of"
                    .to_owned(),
            ));
        }
        (_, None) => None,
    };
    let mut farm = Farm::new(config, db, broker, storage).await?;
    farm.class_check = class_check;
    farm.class_reference = class_reference;
    Ok(farm)
}

/// Store the class checks' benchmark scene `path` (as an uploaded scene)
/// and read the frames a check draws from.
async fn store_check_scene(
    db: &Db,
    storage: &storage::GrantingStore,
    path: &std::path::Path,
    frames: &str,
) -> Result<CheckScene, Error> {
    let bad = |why: String| Error::ClassCheck(format!("{}: {why}", path.display()));
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| bad(format!("cannot read the benchmark scene: {e}")))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| storage::valid_extension(e))
        .ok_or_else(|| bad("the benchmark scene needs a scene file extension (.blend)".into()))?
        .to_owned();
    let scene = SceneHash::from_blake3(blake3::hash(&bytes).as_bytes());
    let frames = FrameSpec::parse(frames, 10_000)
        .map_err(|e| bad(format!("class_check.frames: {e}")))?
        .frames()
        .to_vec();
    storage::upload_file(&storage.store, &storage::scene_key(&scene, &ext), path).await?;
    let (hash, size) = (scene.clone(), bytes.len() as u64);
    db.call(move |db| db.record_scene(&hash, &ext, size).map(drop))
        .await?;
    tracing::info!(scene = %scene, frames = frames.len(), "class check benchmark scene stored");
    Ok(CheckScene { scene, frames })
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
