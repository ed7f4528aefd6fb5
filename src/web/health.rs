//! Operator endpoints: `/healthz` and `/metrics`.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use super::AppState;
use crate::domain::outbox;
use crate::error::{AppError, AppResult};

/// 200 when the database answers, 503 (problem JSON) otherwise.
pub async fn show_health(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    state
        .db
        .run(|conn| {
            conn.batch_execute("SELECT 1").map_err(|e| AppError::unavailable("the database does not answer", e))
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": "ok"})))
}

/// Prometheus text exposition.
pub async fn show_metrics(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut out = String::with_capacity(4096);
    state.metrics.render(&mut out);
    let (connections, idle) = state.db.pool_state();
    out.push_str("# HELP tusk_db_pool_connections Open database connections.\n# TYPE tusk_db_pool_connections gauge\n");
    out.push_str(&format!("tusk_db_pool_connections {connections}\n"));
    out.push_str(
        "# HELP tusk_db_pool_idle_connections Idle database connections.\n# TYPE tusk_db_pool_idle_connections gauge\n",
    );
    out.push_str(&format!("tusk_db_pool_idle_connections {idle}\n"));
    match state.db.run(outbox::depths).await {
        Ok((search, mail)) => {
            out.push_str(
                "# HELP tusk_search_outbox_depth Index updates waiting.\n# TYPE tusk_search_outbox_depth gauge\n",
            );
            out.push_str(&format!("tusk_search_outbox_depth {search}\n"));
            out.push_str(
                "# HELP tusk_mail_outbox_depth Emails queued or being sent.\n# TYPE tusk_mail_outbox_depth gauge\n",
            );
            out.push_str(&format!("tusk_mail_outbox_depth {mail}\n"));
            out.push_str("# HELP tusk_database_up Whether the database answered the last scrape.\n# TYPE tusk_database_up gauge\ntusk_database_up 1\n");
        }
        Err(e) => {
            tracing::warn!(error = ?e, "metrics: database gauges unavailable");
            out.push_str("# HELP tusk_database_up Whether the database answered the last scrape.\n# TYPE tusk_database_up gauge\ntusk_database_up 0\n");
        }
    }
    if let Ok(states) = state.db.run(crate::domain::mail_queue::depth_by_state).await {
        out.push_str("# HELP tusk_mail_outbox_rows Mail outbox rows by state.\n# TYPE tusk_mail_outbox_rows gauge\n");
        for (mail_state, n) in states {
            out.push_str(&format!("tusk_mail_outbox_rows{{state=\"{mail_state}\"}} {n}\n"));
        }
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out))
}
