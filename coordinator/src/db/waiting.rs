//! Why a job's frames wait: said on the job when no online worker can
//! render them, so a wrangler sees "the Cinema 4D workers left" instead of
//! a job that is queued for no visible reason.

use protocol::WorkerInfo;
use rusqlite::{Connection, OptionalExtension};

use super::routing::{job_placement, job_requirement, seat_of};
use super::{DbError, from_json};
use crate::auth::format_utc;
use crate::renderers::describe_all;

/// A worker row as the reason needs it.
struct Row {
    online: bool,
    draining: bool,
    last_seen_ms: i64,
    info: Option<WorkerInfo>,
    seat: crate::placement::Seat,
}

/// The farm's workers as the reasons need them: read once for any number
/// of jobs (a jobs list asks for each of its waiting jobs).
pub(super) struct Workers {
    /// Those not blocklisted.
    rows: Vec<Row>,
    /// How many are blocklisted.
    blocklisted: u64,
}

impl Workers {
    /// Read the workers table.
    pub(super) fn read(conn: &Connection) -> Result<Self, DbError> {
        let mut stmt = conn.prepare_cached(
            "SELECT state = 'online', last_seen_ms, info, region, node_class, device_class, \
                    draining_ms IS NOT NULL FROM workers WHERE blocklisted_ms IS NULL",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let info: String = r.get(2)?;
                Ok(Row {
                    online: r.get(0)?,
                    draining: r.get(6)?,
                    last_seen_ms: r.get(1)?,
                    seat: seat_of(r.get(3)?, r.get(4)?, r.get(5)?, &info),
                    info: from_json::<WorkerInfo>(&info).ok(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let blocklisted = conn.query_row(
            "SELECT COUNT(*) FROM workers WHERE blocklisted_ms IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(Self { rows, blocklisted })
    }
}

/// Why job `job`'s pending frames wait, or `None` when an online worker
/// can take them (or the job is pinned to one worker).
pub(super) fn reason(
    conn: &Connection,
    job: &str,
    workers: &Workers,
) -> Result<Option<String>, DbError> {
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
    let rows = &workers.rows;
    let announced: Vec<&Row> = rows
        .iter()
        .filter(|row| row.info.as_ref().is_some_and(|i| !i.renderers.is_empty()))
        .collect();
    if announced.is_empty() {
        let blocked = workers.blocklisted;
        return Ok(Some(if blocked == 0 {
            "no worker has joined the farm yet; the frames render when one that can joins"
                .to_owned()
        } else {
            format!(
                "every worker that joined the farm is blocklisted ({blocked}); the frames render \
                 when one is reinstated or another that can joins"
            )
        }));
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
    if placed.iter().any(|row| row.online && !row.draining) {
        return Ok(None);
    }
    let count = |n: usize| (n, if n == 1 { "is" } else { "are" });
    let draining = placed.iter().filter(|row| row.online).count();
    if draining > 0 {
        let (n, is) = count(draining);
        return Ok(Some(format!(
            "no online worker can render {wanted}: the {n} that can {is} draining (a draining \
             worker finishes its task and takes no more); undrain one, or the frames wait for \
             another"
        )));
    }
    // An absolute time, so the reason reads the same on every look (a
    // watching client prints it once, a page left open does not go stale).
    let last = placed.iter().map(|row| row.last_seen_ms).max().unwrap_or(0);
    let (n, is) = count(placed.len());
    Ok(Some(format!(
        "no online worker can render {wanted}: the {n} that can {is} offline (last seen {}); \
         the frames stay queued until one is back",
        format_utc(last)
    )))
}
