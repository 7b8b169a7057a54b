//! `GET /api/v1/events`: the coordinator's change feed as Server-Sent
//! Events, limited to what the token may see (an admin everything, a
//! submitter its tenant's jobs and frames, a provider its own workers).
//!
//! The stream opens with a `ready` event whose id is where it starts; each
//! change is an event named for its kind (`job`, `frame`, `copy`,
//! `worker`) with the change as JSON and its `seq` as the event id, so a
//! browser's `EventSource` resumes after a dropped connection by itself
//! (`Last-Event-ID`). A client further behind than the feed keeps gets a
//! `reset` event: reload the snapshot. Nothing polls: the stream waits for
//! the database to say rows changed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use protocol::JobId;
use serde::Deserialize;

use super::ApiError;
use super::auth::check_job;
use crate::auth::{Grant, Principal};
use crate::db::{Change, ChangeScope};
use crate::farm::Farm;

/// Changes read from the database at a time.
const BATCH: usize = 512;
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /api/v1/events` query.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Only this job's changes (and none of the workers').
    pub job: Option<JobId>,
    /// Start after this change (`Last-Event-ID` wins when both are given);
    /// by default the stream starts now.
    pub after: Option<i64>,
}

/// Where a reader of the feed is, and what it has yet to send.
struct Reader {
    farm: Farm,
    scope: ChangeScope,
    job: Option<JobId>,
    cursor: i64,
    pending: VecDeque<Event>,
    changed: tokio::sync::watch::Receiver<u64>,
    stopped: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Reader {
    /// The next event, waiting for a change when there is none; `None` when
    /// the server shuts down or the database fails.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            // Mark what is seen before reading, so a change committed
            // during the read wakes the next wait.
            self.changed.borrow_and_update();
            let (scope, job, after) = (self.scope.clone(), self.job, self.cursor);
            let read = self
                .farm
                .db
                .call(move |db| db.changes_after(after, &scope, job, BATCH))
                .await;
            let changes = match read {
                Ok(changes) => changes,
                Err(error) => {
                    tracing::error!(%error, "the change feed cannot be read; closing a stream");
                    return None;
                }
            };
            if let Some(last) = changes.last() {
                self.cursor = last.seq;
                self.pending.extend(changes.iter().map(event));
                continue;
            }
            tokio::select! {
                changed = self.changed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = &mut self.stopped => return None,
            }
        }
    }
}

/// The SSE event of `change`.
fn event(change: &Change) -> Event {
    let kind = match change.body {
        crate::db::ChangeBody::Job { .. } => "job",
        crate::db::ChangeBody::Frame { .. } => "frame",
        crate::db::ChangeBody::Copy { .. } => "copy",
        crate::db::ChangeBody::Worker { .. } => "worker",
    };
    Event::default()
        .event(kind)
        .id(change.seq.to_string())
        .json_data(change)
        .expect("changes serialise")
}

/// Where the stream starts: `Last-Event-ID`, else `after`, else now.
fn start(headers: &HeaderMap, after: Option<i64>) -> Result<Option<i64>, ApiError> {
    match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|seq| *seq >= 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_last_event_id",
                    "Last-Event-ID must be the id of an event this stream sent (a number)",
                )
            }),
        None => Ok(after),
    }
}

/// `GET /api/v1/events`.
pub async fn stream(
    State(farm): State<Farm>,
    principal: Principal,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query?;
    let scope = match &principal.grant {
        Grant::Admin => ChangeScope::All,
        Grant::Submitter { tenant } => ChangeScope::Tenant(tenant.clone()),
        Grant::Provider { owner } => ChangeScope::Owner(owner.clone()),
    };
    if let Some(job) = query.job {
        check_job(&farm, &principal, job, "follow a job's events").await?;
    }
    let asked = start(&headers, query.after)?;
    let (latest, oldest) = farm
        .db
        .call(|db| Ok((db.latest_change()?, db.oldest_change()?)))
        .await?;
    let cursor = asked.unwrap_or(latest).min(latest);
    let mut pending = VecDeque::new();
    // Changes between `cursor` and the oldest kept one are gone.
    if asked.is_some() && oldest.is_some_and(|oldest| oldest > cursor + 1) {
        pending.push_back(Event::default().event("reset").data(
            r#"{"reason":"the stream fell behind the kept changes; reload and follow again"}"#,
        ));
    }
    pending.push_front(
        Event::default()
            .event("ready")
            .id(cursor.to_string())
            .data(format!(r#"{{"after":{cursor}}}"#)),
    );
    let reader = Reader {
        changed: farm.db.watch_changes(),
        stopped: Box::pin(farm.streams_stopped()),
        farm,
        scope,
        job: query.job,
        cursor,
        pending,
    };
    let events = futures::stream::unfold(reader, |mut reader| async move {
        let event = reader.next().await?;
        Some((Ok(event), reader))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
