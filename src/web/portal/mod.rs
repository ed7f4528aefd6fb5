//! The customer portal and support form: server-rendered pages under
//! `/support`. Forms shown before sign-in (the support form, "send me a
//! link") use the double-submit CSRF cookie; signed-in forms the session's
//! token. Every ticket, message and attachment goes through
//! [`crate::domain::portal`], which answers "not found" for anything the
//! contact may not see. Errors render with [`PageError::portal`].

pub mod auth;
pub mod form;
pub mod tickets;

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;

use super::AppState;
use super::session::{ContactUser, PageError};
use crate::domain::portal::{PortalSettings, Upload};
use crate::error::{AppError, ErrorKind};

/// Maps a domain error to a portal page error.
pub trait OrPortal<T> {
    fn portal(self) -> Result<T, PageError>;
}

impl<T> OrPortal<T> for Result<T, AppError> {
    fn portal(self) -> Result<T, PageError> {
        self.map_err(PageError::portal)
    }
}

/// What the portal layout needs on every page.
#[derive(Debug, Serialize)]
pub struct PortalChrome {
    pub title: String,
    pub support_name: String,
    pub signed_in: bool,
    pub me_name: Option<String>,
    pub me_email: Option<String>,
    pub is_admin: bool,
    /// The session's CSRF token (sign-out form) when signed in.
    pub csrf: String,
    pub flash: Option<String>,
}

impl PortalChrome {
    pub fn new(state: &AppState, user: Option<&ContactUser>, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            support_name: state.config.support.name.clone(),
            signed_in: user.is_some(),
            me_name: user.and_then(|u| u.contact.name.clone()),
            me_email: user.map(|u| u.contact.email.clone()),
            is_admin: user.is_some_and(|u| u.contact.is_institution_admin),
            csrf: user.map(|u| u.session.csrf_token.clone()).unwrap_or_default(),
            flash: None,
        }
    }

    pub fn with_flash(mut self, flash: Option<String>) -> Self {
        self.flash = flash;
        self
    }
}

/// The portal's settings from the configuration.
pub fn settings(state: &AppState) -> PortalSettings {
    PortalSettings::from_config(&state.config)
}

/// Renders a portal page with a status and, optionally, a cookie to set.
pub fn render<T: Serialize>(
    state: &AppState,
    name: &str,
    data: &T,
    status: StatusCode,
    cookie: Option<Cookie<'static>>,
) -> Result<HttpResponse, PageError> {
    let body = state.views.render(name, data).portal()?;
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    Ok(response.body(body))
}

/// A 303 redirect.
pub fn see_other(location: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.into())).finish()
}

/// `?flash=` codes the portal shows after a redirect (a fixed set, so a
/// crafted link cannot make the page say anything else).
pub fn flash_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "replied" => "Your reply was added to the ticket.",
        "solved" => "The ticket is marked solved. Reply to it if the problem comes back.",
        "welcome" => "You are signed in.",
        _ => return None,
    };
    Some(text.to_string())
}

/// A multipart form read into memory within limits.
#[derive(Debug, Default)]
pub struct MultipartForm {
    pub fields: HashMap<String, String>,
    pub files: Vec<Upload>,
}

impl MultipartForm {
    /// A text field, empty when missing.
    pub fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}

/// Longest text field read from a multipart form.
const MAX_TEXT_FIELD_BYTES: usize = 256 * 1024;
/// Most parts read from a multipart form.
const MAX_PARTS: usize = 40;

fn unreadable() -> AppError {
    AppError::invalid("the form could not be read; send it as multipart/form-data")
}

/// Reads a `multipart/form-data` body: text fields (at most 256 KiB each)
/// and files (parts with a file name; empty unnamed file parts, which
/// browsers send when no file was chosen, are skipped). Refuses more than
/// `max_files` files or a file over `max_file_bytes` as soon as it is seen,
/// without reading the rest.
pub async fn read_multipart(
    mut payload: Multipart,
    max_files: usize,
    max_file_bytes: usize,
) -> Result<MultipartForm, AppError> {
    let mut form = MultipartForm::default();
    let mut parts = 0usize;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| unreadable().with_cause(anyhow::anyhow!("multipart: {e}")))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(AppError::invalid("the form has too many parts"));
        }
        let (name, filename) = match field.content_disposition() {
            Some(cd) => (cd.get_name().unwrap_or_default().to_string(), cd.get_filename().map(str::to_string)),
            None => (String::new(), None),
        };
        let content_type = field.content_type().map(|m| m.essence_str().to_string());
        let is_file = filename.is_some();
        let limit = if is_file { max_file_bytes } else { MAX_TEXT_FIELD_BYTES };
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| unreadable().with_cause(anyhow::anyhow!("multipart: {e}")))?;
            if bytes.len() + chunk.len() > limit {
                return Err(if is_file {
                    AppError::new(
                        ErrorKind::TooLarge,
                        format!(
                            "`{}` is larger than {limit} bytes",
                            crate::domain::portal::clean_filename(filename.as_deref().unwrap_or_default())
                        ),
                    )
                } else {
                    AppError::new(ErrorKind::TooLarge, format!("the field `{name}` is too long"))
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            Some(filename) => {
                if filename.is_empty() && bytes.is_empty() {
                    continue;
                }
                if form.files.len() >= max_files {
                    return Err(AppError::invalid(format!("at most {max_files} attachments are accepted")));
                }
                form.files.push(Upload {
                    filename,
                    content_type: content_type.unwrap_or_else(|| "application/octet-stream".to_string()),
                    bytes,
                });
            }
            None => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| AppError::invalid(format!("the field `{name}` is not UTF-8")))?;
                form.fields.insert(name, text);
            }
        }
    }
    Ok(form)
}

/// Stores uploads in the blob store (off the async workers) and returns the
/// attachment inputs for the domain.
pub async fn store_uploads(
    state: &AppState,
    uploads: Vec<Upload>,
) -> Result<Vec<crate::domain::tickets::AttachmentInput>, AppError> {
    if uploads.is_empty() {
        return Ok(Vec::new());
    }
    let blobs = state.blobs.clone();
    web::block(move || {
        let mut out = Vec::with_capacity(uploads.len());
        for upload in &uploads {
            let blob = blobs
                .put(&upload.bytes)
                .map_err(|e| AppError::internal(anyhow::anyhow!("storing an attachment: {e}")))?;
            out.push(crate::domain::portal::attachment_input(upload, blob.sha256));
        }
        Ok::<_, AppError>(out)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("storing attachments: {e}")))?
}
