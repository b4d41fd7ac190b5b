//! One module per resource; handler names `<verb>_<resource>` are the operationIds.

pub mod auth;
pub mod health;
pub mod me;
pub mod meta;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every route (and so every operation of the document).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::get_liveness)
        .service(health::get_readiness)
        .service(
            utoipa_actix_web::scope("/api/v1")
                .service(meta::get_api_index)
                .service(auth::post_login)
                .service(auth::post_refresh)
                .service(auth::post_logout)
                .service(me::get_me),
        );
}
