//! The workers: reachability, draining and blocklisting, owner, region,
//! node class, devices, what each renders now, its standing with the parity
//! checker and its earnings; an admin (or a worker's provider) drains and
//! undrains, an admin blocklists and reinstates from here. The page
//! reads the same scoped lists as `GET /api/v1/workers` and
//! `GET /api/v1/payouts` (a provider sees its own workers, a submitter
//! none), and reloads its rows when the change feed says a worker changed.

use std::collections::HashMap;

use axum::extract::State;
use maud::{Markup, html};

use super::error::PageError;
use super::format::ago;
use super::layout::{Section, page};
use crate::api::auth::owner_scope;
use crate::api::session::UiSession;
use crate::auth::{Principal, Role};
use crate::billing::Payout;
use crate::farm::Farm;
use crate::model::WorkerView;
use crate::money::{Money, MoneyOverflow};
use crate::state::WorkerState;
use protocol::WorkerId;

/// `GET /ui/workers`.
pub async fn page_workers(
    State(farm): State<Farm>,
    principal: Principal,
    session: UiSession,
) -> Result<Markup, PageError> {
    let owner = owner_scope(&principal, "see workers")?;
    let window_ms = farm
        .config
        .billing
        .verification_window_secs
        .saturating_mul(1000) as i64;
    let (after, (mut workers, payouts)) = farm
        .db
        .call(move |db| db.snapshot(|db| Ok((db.list_workers()?, db.payouts(window_ms)?))))
        .await?;
    if let Some(owner) = &owner {
        workers.retain(|w| w.info.owner == owner.as_str());
    }
    let mut payouts: HashMap<_, Payout> = payouts.into_iter().map(|p| (p.worker_id, p)).collect();
    if let Some(owner) = &owner {
        payouts.retain(|_, p| p.owner == owner.as_str());
    }
    let owners = by_owner(&payouts).map_err(crate::db::DbError::from)?;
    let admin = principal.role() == Role::Admin;
    let now = protocol::now_ms();
    let body = html! {
        h1 { "Workers" }
        (table(after, admin, html! {
            @for worker in &workers { (row(worker, payouts.get(&worker.info.id), admin, now)) }
        }))
        @if workers.is_empty() {
            p class="empty" { "No workers yet. Providers enroll them with an enrollment token." }
        }
        h2 { "Payouts per provider" }
        div class="scroll" {
            table id="payouts" {
                thead { tr { th { "Provider" } th { "Workers" } th { "Frames delivered" } th { "Verified" }
                    th { "Wrong" } th { "Earned" } th { "Held" } th { "Forfeited" } } }
                tbody {
                    @for owner in &owners {
                        tr {
                            td { (owner.owner) } td { (owner.workers) } td { (owner.delivered) } td { (owner.verified) }
                            td { (owner.wrong) } td { (owner.earned) } td { (owner.held) } td { (owner.forfeited) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        "Workers",
        Section::Workers,
        Some((&principal, &session)),
        body,
    ))
}

/// The workers table around `rows` (its script follows the change feed
/// after `after`), with the blocklisting reason box for an admin.
pub(super) fn table(after: i64, admin: bool, rows: Markup) -> Markup {
    html! {
        @if admin {
            div class="filters" {
                label for="blocklist-reason" { "Reason for a blocklisting" }
                input id="blocklist-reason" type="text" maxlength="500" placeholder="e.g. renders the wrong frames";
            }
        }
        div class="scroll" {
            table id="workers" data-after=(after) data-admin=(admin) {
                thead { tr {
                    th { "State" } th { "Name" } th { "Owner" } th { "Region" } th { "Node class" }
                    th { "Devices" } th { "Rendering" } th { "Reputation" } th { "Earned" } th { "Last seen" }
                    th { "Actions" }
                } }
                tbody { (rows) }
            }
        }
    }
}

/// One provider's payouts, summed over its workers.
struct OwnerPayout {
    owner: String,
    workers: usize,
    delivered: u64,
    verified: u64,
    wrong: u64,
    earned: Money,
    held: Money,
    forfeited: Money,
}

/// `payouts` summed per owner, by owner name.
fn by_owner(payouts: &HashMap<WorkerId, Payout>) -> Result<Vec<OwnerPayout>, MoneyOverflow> {
    let mut owners: Vec<OwnerPayout> = Vec::new();
    let mut sorted: Vec<&Payout> = payouts.values().collect();
    sorted.sort_by(|a, b| a.owner.cmp(&b.owner));
    for payout in sorted {
        if owners.last().is_none_or(|o| o.owner != payout.owner) {
            owners.push(OwnerPayout {
                owner: payout.owner.clone(),
                workers: 0,
                delivered: 0,
                verified: 0,
                wrong: 0,
                earned: Money(0),
                held: Money(0),
                forfeited: Money(0),
            });
        }
        let owner = owners.last_mut().expect("just pushed");
        owner.workers += 1;
        owner.delivered += payout.frames_delivered;
        owner.verified += payout.frames_verified;
        owner.wrong += payout.frames_wrong;
        owner.earned = owner.earned.checked_add(payout.earned_micros)?;
        owner.held = owner.held.checked_add(payout.held_micros)?;
        owner.forfeited = owner.forfeited.checked_add(payout.forfeited_micros)?;
    }
    Ok(owners)
}

/// `online`, `lost`, `left`, `blocklisted`, `draining` (online, finishing
/// its task) or `drained` (online, idle, taking nothing).
pub(super) fn standing(worker: &WorkerView) -> &'static str {
    if worker.reputation.blocklisted_ms.is_some() {
        "blocklisted"
    } else if worker.draining_ms.is_some() && worker.state == WorkerState::Online {
        if worker.current_task.is_some() {
            "draining"
        } else {
            "drained"
        }
    } else {
        worker.state.as_str()
    }
}

/// One worker's row.
pub(super) fn row(worker: &WorkerView, payout: Option<&Payout>, admin: bool, now: i64) -> Markup {
    let info = &worker.info;
    let reputation = &worker.reputation;
    let devices = if info.gpus.is_empty() {
        format!("{} ({} cores)", info.cpu.model, info.cpu.cores)
    } else {
        info.gpus
            .iter()
            .map(|g| format!("{} {} MiB", g.name, g.memory_mib))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let state = standing(worker);
    html! {
        tr data-worker=(info.id) {
            td { span class={ "badge " (state) } data-field="state" { (state) } }
            td { a href={ "/ui/workers/" (info.id) } { (info.name) } }
            td { (info.owner) }
            td { (info.region) }
            td { (info.node_class) }
            td { (devices) }
            td data-field="rendering" {
                @match worker.current_frame {
                    Some(frame) => { "frame " (frame) @if let Some(p) = worker.progress { " · " (format!("{:.0}", p * 100.0)) "%" } }
                    None => "idle",
                }
            }
            td title=(reputation.blocklist_reason.as_deref().unwrap_or_default()) {
                (reputation.verified_streak) " verified in a row, " (reputation.strikes) " strike(s)"
                @if reputation.refused_events > 0 { ", " (reputation.refused_events) " refused event(s)" }
            }
            td { @if let Some(p) = payout { (p.earned_micros) " (held " (p.held_micros) ")" } @else { "—" } }
            td { (ago(now - worker.last_seen_ms)) }
            td class="actions" {
                @if worker.draining_ms.is_some() {
                    button type="button" data-worker-action="undrain" { "undrain" }
                } @else {
                    button type="button" data-worker-action="drain" { "drain" }
                }
                @if admin {
                    @if reputation.blocklisted_ms.is_some() {
                        button type="button" data-worker-action="reinstate" { "reinstate" }
                    } @else {
                        button type="button" data-worker-action="blocklist" { "blocklist" }
                    }
                }
            }
        }
    }
}
