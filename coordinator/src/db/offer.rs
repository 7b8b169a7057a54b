//! What the farm offers a job: the regions and node classes its workers
//! were enrolled in (the coordinator's own enrollment terms, never what a
//! worker claims).

use std::collections::BTreeSet;

use protocol::{RendererInfo, WorkerInfo, now_ms};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Db, DbError, from_json};

/// The regions and node classes a job may ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarmOffer {
    /// Regions of workers not blocklisted, and of live enrollment tokens.
    pub regions: BTreeSet<String>,
    /// Node classes of the same.
    pub node_classes: BTreeSet<String>,
    /// Renderers the farm's workers (not blocklisted) announced, with
    /// their versions and the scene formats they open.
    pub renderers: Vec<RendererInfo>,
}

impl Db {
    /// The regions and node classes of the farm's enrolled workers and of
    /// the enrollment tokens that can still enroll more.
    pub fn farm_offer(&self) -> Result<FarmOffer, DbError> {
        let conn = self.lock();
        let mut offer = FarmOffer::default();
        let mut workers = conn.prepare_cached(
            "SELECT DISTINCT region, node_class FROM workers WHERE blocklisted_ms IS NULL",
        )?;
        for row in workers.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (region, class): (String, String) = row?;
            offer.regions.insert(region);
            offer.node_classes.insert(class);
        }
        let mut enrollments = conn.prepare_cached(
            "SELECT region, node_classes FROM enrollments \
             WHERE revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?1)",
        )?;
        for row in enrollments.query_map(params![now_ms()], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (region, classes): (String, String) = row?;
            offer.regions.insert(region);
            offer
                .node_classes
                .extend(from_json::<Vec<String>>(&classes)?);
        }
        drop(enrollments);
        drop(workers);
        drop(conn);
        let mut renderers: Vec<RendererInfo> =
            self.registered_renderers()?.into_iter().flatten().collect();
        renderers.sort_by(|a, b| (a.renderer, &a.version).cmp(&(b.renderer, &b.version)));
        renderers.dedup();
        offer.renderers = renderers;
        Ok(offer)
    }

    /// The renderers each worker that joined the farm announced, for every
    /// worker not blocklisted (online or not: one that left may come back)
    /// that has announced itself (an enrolled worker that never started
    /// has said nothing yet).
    pub fn registered_renderers(&self) -> Result<Vec<Vec<RendererInfo>>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT info FROM workers WHERE blocklisted_ms IS NULL AND info IS NOT NULL",
        )?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .iter()
            .filter_map(|info| from_json::<WorkerInfo>(info).ok())
            .map(|info| info.renderers)
            .filter(|renderers| !renderers.is_empty())
            .collect())
    }
}
