//! What the farm offers a job: the regions and node classes its workers
//! were enrolled in (the coordinator's own enrollment terms, never what a
//! worker claims).

use std::collections::BTreeSet;

use protocol::now_ms;
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
        Ok(offer)
    }
}
