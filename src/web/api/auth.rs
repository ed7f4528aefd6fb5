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

/// The caller of a token secret, or 401.
fn caller_of(conn: &mut crate::db::AnyConnection, secret: &str) -> AppResult<ApiCaller> {
    match api_tokens::authenticate(conn, secret)? {
        Some(t) => {
            let scopes = t.scope_list();
            Ok(ApiCaller { token_id: t.id, token_name: t.name.clone(), scopes })
        }
        None => Err(AppError::unauthorized("the API token is unknown or revoked")),
    }
}

fn missing_token() -> AppError {
    AppError::unauthorized("an API token is required (Authorization: Bearer …)")
}

impl FromRequest for ApiCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiCaller, AppError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let secret = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let Some(secret) = secret else {
                return Err(missing_token());
            };
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no application state")))?;
            state.db.run(move |conn| caller_of(conn, &secret)).await
        })
    }
}

/// The bearer token of a request, not checked yet: the busiest read
/// endpoints check it in the same trip to the database as their query
/// ([`ApiBearer::run`]), one pooled connection and blocking-thread hop
/// fewer per request than [`ApiCaller`]. A missing token is 401 at once.
pub struct ApiBearer {
    secret: String,
}

impl FromRequest for ApiBearer {
    type Error = AppError;
    type Future = std::future::Ready<Result<ApiBearer, AppError>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(bearer(req).map(|secret| ApiBearer { secret }).ok_or_else(missing_token))
    }
}

impl ApiBearer {
    /// Authenticates the token (401), checks `scope` (403), then runs `f`
    /// with the caller's actor, on the same connection.
    pub async fn run<T, F>(self, state: &AppState, scope: Scope, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut crate::db::AnyConnection, Actor) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let secret = self.secret;
        state
            .db
            .run(move |conn| {
                let actor = caller_of(conn, &secret)?.require(scope)?;
                f(conn, actor)
            })
            .await
    }

    /// Only authenticates and checks `scope`: a request with bad input is
    /// answered 401 or 403 before 422, as with [`ApiCaller`].
    pub async fn check(self, state: &AppState, scope: Scope) -> AppResult<Actor> {
        self.run(state, scope, |_, actor| Ok(actor)).await
    }

    /// Answers a request whose input was refused: 401 or 403 when the
    /// caller is not let in, else `refused` (so bad input never tells an
    /// unauthenticated caller more than 401).
    pub async fn refuse<T>(self, state: &AppState, scope: Scope, refused: AppError) -> AppResult<T> {
        self.check(state, scope).await?;
        Err(refused)
    }
}
