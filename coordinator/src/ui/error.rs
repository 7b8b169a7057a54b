//! A refused page request as a page: the API's status and message, shown
//! to a person instead of JSON.

use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{Section, page};
use crate::api::ApiError;

/// Why a page could not be shown.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(error: crate::db::DbError) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ApiError {
            status, message, ..
        } = self.0;
        let body = page(
            status.canonical_reason().unwrap_or("Error"),
            Section::Jobs,
            None,
            html! {
                section class="card narrow" {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or_default()) }
                    p class="error" role="alert" { (message) }
                    p { a href="/ui/jobs" { "Back to the jobs" } }
                }
            },
        );
        (status, body).into_response()
    }
}
