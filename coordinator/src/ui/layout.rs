//! The page shell every UI page shares: head (the session's CSRF token for
//! the page's script, the stylesheet), the navigation, and the main area.

use maud::{DOCTYPE, Markup, html};

use crate::api::session::UiSession;
use crate::auth::{Principal, Role};

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The jobs table and job pages.
    Jobs,
    /// The workers.
    Workers,
    /// The sign-in page.
    SignIn,
}

/// A whole page titled `title` with `body` in its main area. `who` is the
/// signed-in caller (none on the sign-in page).
pub fn page(
    title: &str,
    section: Section,
    who: Option<(&Principal, &UiSession)>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some((_, session)) = who {
                    meta name="csrf-token" content=(session.csrf.expose());
                }
                title { (title) " · Render farm" }
                link rel="stylesheet" href="/ui/assets/app.css";
                script src="/ui/assets/app.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/ui/jobs" { "Render farm" }
                    @if let Some((principal, _)) = who {
                        nav aria-label="Sections" {
                            a href="/ui/jobs" aria-current=[(section == Section::Jobs).then_some("page")] { "Jobs" }
                            @if principal.role() != Role::Submitter {
                                a href="/ui/workers" aria-current=[(section == Section::Workers).then_some("page")] { "Workers" }
                            }
                        }
                        span class="who" { (describe(principal)) }
                        button type="button" class="link" id="sign-out" { "Sign out" }
                    }
                    button type="button" class="link" id="theme" aria-label="Switch light or dark theme" { "◐" }
                }
                main id="main" { (body) }
                div id="status" role="status" aria-live="polite" {}
            }
        }
    }
}

/// `submitter of acme`, `admin`, `provider for gpu-co`.
fn describe(principal: &Principal) -> String {
    let grant = &principal.grant;
    match (grant.tenant(), grant.owner()) {
        (Some(tenant), _) => format!("submitter · {tenant}"),
        (_, Some(owner)) => format!("provider · {owner}"),
        _ => "admin".into(),
    }
}
