//! The bearer-token extractor: `Authorization: Bearer tusk_…`. A missing,
//! unknown or revoked token is 401; a valid token without the scope an
//! endpoint needs is 403.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::Actor;
use crate::domain::api_tokens::{self, Scope};
use crate::error::{AppError, AppResult};
use crate::web::AppState;

/// The authenticated API client of a request.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token_id: i64,
    pub token_name: String,
    scopes: Vec<Scope>,
}

impl ApiCaller {
    /// The actor to record on events, when the token has `scope`; else 403.
    pub fn require(&self, scope: Scope) -> AppResult<Actor> {
        if self.scopes.contains(&scope) {
            Ok(Actor::Api(self.token_id))
        } else {
            Err(AppError::forbidden(format!("this token lacks the scope {scope}")))
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

impl FromRequest for ApiCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiCaller, AppError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let secret = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let Some(secret) = secret else {
                return Err(AppError::unauthorized("an API token is required (Authorization: Bearer …)"));
            };
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no application state")))?;
            let token = state.db.run(move |conn| api_tokens::authenticate(conn, &secret)).await?;
            match token {
                Some(t) => {
                    let scopes = t.scope_list();
                    Ok(ApiCaller { token_id: t.id, token_name: t.name, scopes })
                }
                None => Err(AppError::unauthorized("the API token is unknown or revoked")),
            }
        })
    }
}
