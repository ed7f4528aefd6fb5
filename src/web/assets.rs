//! Static assets of the console and portal, embedded in the binary and
//! served from Tusk itself (never from a CDN).

use actix_web::HttpResponse;
use actix_web::http::header;

const CSS: &str = include_str!("../../templates/static/tusk.css");
const CONSOLE_JS: &str = include_str!("../../templates/static/console.js");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// `GET /static/tusk.css`
pub async fn show_css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /static/console.js`
pub async fn show_console_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}
