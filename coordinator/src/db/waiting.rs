//! Why a job's frames wait: said on the job when no online worker can
//! render them, so a wrangler sees "the Cinema 4D workers left" instead of
//! a job that is queued for no visible reason.

use protocol::{WorkerInfo, now_ms};
use rusqlite::{Connection, OptionalExtension};

use super::routing::{job_placement, job_requirement, seat_of};
use super::{DbError, from_json};
use crate::renderers::describe_all;

/// A worker row as the reason needs it.
struct Row {
    online: bool,
    last_seen_ms: i64,
    info: Option<WorkerInfo>,
    seat: crate::placement::Seat,
}

/// Why job `job`'s pending frames wait, or `None` when an online worker
/// can take them (or the job is pinned to one worker).
pub(super) fn reason(conn: &Connection, job: &str) -> Result<Option<String>, DbError> {
    let pinned: Option<String> = conn
        .query_row("SELECT pinned_worker FROM jobs WHERE id = ?1", [job], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    if pinned.is_some() {
        return Ok(None);
    }
    let requirement = job_requirement(conn, job)?;
    let placement = job_placement(conn, job)?;
    let mut stmt = conn.prepare_cached(
        "SELECT state = 'online' AND draining_ms IS NULL, last_seen_ms, info, region, node_class, \
                device_class FROM workers WHERE blocklisted_ms IS NULL",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let info: String = r.get(2)?;
            Ok(Row {
                online: r.get(0)?,
                last_seen_ms: r.get(1)?,
                seat: seat_of(r.get(3)?, r.get(4)?, r.get(5)?, &info),
                info: from_json::<WorkerInfo>(&info).ok(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let announced: Vec<&Row> = rows
        .iter()
        .filter(|row| row.info.as_ref().is_some_and(|i| !i.renderers.is_empty()))
        .collect();
    if announced.is_empty() {
        return Ok(Some(
            "no worker has joined the farm yet; the frames render when one that can joins"
                .to_owned(),
        ));
    }
    let able: Vec<&Row> = announced
        .iter()
        .copied()
        .filter(|row| {
            row.info
                .as_ref()
                .is_some_and(|i| requirement.met_by(&i.renderers))
        })
        .collect();
    let wanted = requirement.describe();
    if able.is_empty() {
        let mut have: Vec<String> = announced
            .iter()
            .filter_map(|row| row.info.as_ref().map(|i| describe_all(&i.renderers)))
            .collect();
        have.sort();
        have.dedup();
        return Ok(Some(format!(
            "no worker of the farm can render {wanted}; its workers have {}",
            have.join("; ")
        )));
    }
    let placed: Vec<&Row> = able
        .iter()
        .copied()
        .filter(|row| placement.is_anywhere() || placement.admits(&row.seat))
        .collect();
    if placed.is_empty() {
        return Ok(Some(format!(
            "no worker that can render {wanted} meets the job's placement"
        )));
    }
    if placed.iter().any(|row| row.online) {
        return Ok(None);
    }
    let last = placed.iter().map(|row| row.last_seen_ms).max().unwrap_or(0);
    let ago = (now_ms() - last).max(0) / 1000;
    Ok(Some(format!(
        "no online worker can render {wanted}: the {} that can {} offline (last seen {} ago); \
         the frames stay queued until one is back",
        placed.len(),
        if placed.len() == 1 { "is" } else { "are" },
        human_secs(ago)
    )))
}

/// Seconds in words: `45 s`, `12 min`, `3 h`, `2 days`.
fn human_secs(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
