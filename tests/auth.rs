//! Logging in, tokens, refresh rotation, logout, and the refusal of every bad token.

use actix_web::test::TestRequest;
use api::auth::Claims;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::support::app::{Reply, call_on};
use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(
    demo_accounts_log_in_and_see_themselves,
    a_wrong_password_and_an_unknown_login_look_the_same,
    repeated_failures_are_slowed_down,
    failures_from_one_address_over_many_logins_are_slowed_down_there_only,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_access_and_refresh,
    bad_tokens_are_refused_with_401,
    bad_bodies_are_named_problems,
    grants_changed_anywhere_count_at_the_next_request,
);

async fn demo_accounts_log_in_and_see_themselves(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let reply = app.login("demo-parent", "demo-password").await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_expires_in"].as_i64().is_some_and(|s| s > 900));

    let (parent, _) = app.tokens("demo-parent").await;
    let me = app.get_as(&parent, "/api/v1/me").await;
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(me["login"], "demo-parent");
    assert_eq!(me["roles"], json!(["parent"]));
    let schools = me["schools"].as_array().cloned().unwrap_or_default();
    assert_eq!(schools.len(), 1);
    let children = me["children"].as_array().cloned().unwrap_or_default();
    assert_eq!(children.len(), 2);
    assert!(
        children
            .iter()
            .all(|c| c["id"].is_i64() && c["school_id"] == schools[0]["id"])
    );

    let (student, _) = app.tokens("demo-student").await;
    let me = app.get_as(&student, "/api/v1/me").await.json();
    assert_eq!(me["roles"], json!(["student"]));
    assert_eq!(me["children"], json!([]));
    let (teacher, _) = app.tokens("demo-teacher").await;
    assert_eq!(
        app.get_as(&teacher, "/api/v1/me").await.json()["roles"],
        json!(["class_teacher", "teacher"])
    );
    let (admin, _) = app.tokens("demo-admin").await;
    assert_eq!(
        app.get_as(&admin, "/api/v1/me").await.json()["roles"],
        json!(["school_admin"])
    );
}

async fn a_wrong_password_and_an_unknown_login_look_the_same(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let wrong = app.login("demo-teacher", "not-the-password").await;
    let unknown = app.login("nobody-at-all", "not-the-password").await;
    // `parent-1` exists but was never activated (no password): the same answer again.
    let inactive = app.login("parent-1", "").await;
    let inactive_with_password = app.login("parent-1", "demo-password").await;
    wrong.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, inactive_with_password.body);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(
        inactive.status, 422,
        "an empty password is a validation error"
    );
    assert!(!String::from_utf8_lossy(&wrong.body).contains("demo-teacher"));
}

async fn repeated_failures_are_slowed_down(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    for _ in 0..5 {
        app.login("demo-teacher", "guess")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let refused = app.login("demo-teacher", "demo-password").await;
    refused.assert_problem(429, "too_many_requests");
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(wait >= 1, "Retry-After names the wait");
}

/// A login from `address` (the client's, as the server sees it).
async fn login_from(app: &TestApp, address: &str, login: &str, password: &str) -> Reply {
    let peer = format!("{address}:40000")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    app.call(
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr(peer)
            .set_json(json!({"login": login, "password": password})),
    )
    .await
}

async fn failures_from_one_address_over_many_logins_are_slowed_down_there_only(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    // Guessing across accounts (password spraying): a failure for each of five logins.
    for login in [
        "demo-teacher",
        "demo-admin",
        "demo-student",
        "nobody-1",
        "nobody-2",
    ] {
        login_from(&app, "203.0.113.7", login, "Summer2026!")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // That address waits, even with a right password for an account it never tried.
    let refused = login_from(&app, "203.0.113.7", "demo-parent", "demo-password").await;
    refused.assert_problem(429, "too_many_requests");
    assert!(refused.header("retry-after").is_some());
    // The accounts are not locked for everyone else.
    for login in ["demo-parent", "demo-teacher"] {
        let reply = login_from(&app, "198.51.100.20", login, "demo-password").await;
        assert_eq!(reply.status, 200, "{login}");
    }
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let (access, first) = app.tokens("demo-parent").await;
    let refresh = |token: &str| {
        TestRequest::post()
            .uri("/api/v1/auth/refresh")
            .set_json(json!({"refresh_token": token}))
    };
    let rotated = app.call(refresh(&first)).await;
    assert_eq!(rotated.status, 200);
    let second = rotated.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let new_access = rotated.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(app.get_as(&new_access, "/api/v1/me").await.status, 200);

    // The first token again: refused, and the whole family is revoked.
    app.call(refresh(&first))
        .await
        .assert_problem(401, "unauthorized");
    app.call(refresh(&second))
        .await
        .assert_problem(401, "unauthorized");
    app.get_as(&access, "/api/v1/me")
        .await
        .assert_problem(401, "unauthorized");
    app.get_as(&new_access, "/api/v1/me")
        .await
        .assert_problem(401, "unauthorized");
    // Another login is a new family and works.
    let (other, _) = app.tokens("demo-parent").await;
    assert_eq!(app.get_as(&other, "/api/v1/me").await.status, 200);
    app.call(refresh("no-such-token"))
        .await
        .assert_problem(401, "unauthorized");
}

async fn logout_revokes_access_and_refresh(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let (access, refresh) = app.tokens("demo-teacher").await;
    let logout = |token: &str| {
        TestRequest::post()
            .uri("/api/v1/auth/logout")
            .insert_header(("Authorization", format!("Bearer {token}")))
    };
    assert_eq!(app.call(logout(&access)).await.status, 204);
    app.get_as(&access, "/api/v1/me")
        .await
        .assert_problem(401, "unauthorized");
    app.call(
        TestRequest::post()
            .uri("/api/v1/auth/refresh")
            .set_json(json!({"refresh_token": refresh})),
    )
    .await
    .assert_problem(401, "unauthorized");
    app.call(logout(&access))
        .await
        .assert_problem(401, "unauthorized");
    app.call(TestRequest::post().uri("/api/v1/auth/logout"))
        .await
        .assert_problem(401, "unauthorized");
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn bad_tokens_are_refused_with_401(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let (good, _) = app.tokens("demo-parent").await;
    let claims: Claims = {
        let payload = good.split('.').nth(1).unwrap_or_default();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let now = chrono::Utc::now().timestamp();
    let sign = |c: Claims| app.state.tokens.sign(&c).unwrap_or_else(|e| panic!("{e}"));
    let mut bad: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(Claims {
                exp: now - 3600,
                iat: now - 7200,
                nbf: now - 7200,
                ..claims.clone()
            }),
        ),
        (
            "not yet valid",
            sign(Claims {
                nbf: now + 3600,
                ..claims.clone()
            }),
        ),
        (
            "wrong issuer",
            sign(Claims {
                iss: "someone-else".into(),
                ..claims.clone()
            }),
        ),
        (
            "wrong audience",
            sign(Claims {
                aud: "another-api".into(),
                ..claims.clone()
            }),
        ),
        (
            "unknown session",
            sign(Claims {
                sid: claims.sid.map(|s| s + 1000),
                ..claims.clone()
            }),
        ),
        (
            "another user's session",
            sign(Claims {
                sub: (claims.sub.parse::<i64>().unwrap_or(0) + 1).to_string(),
                ..claims.clone()
            }),
        ),
        (
            "a person's token that also claims integrator scopes",
            sign(Claims {
                scope: Some("roster:read".into()),
                ..claims.clone()
            }),
        ),
        (
            "an integrator subject without scopes",
            sign(Claims {
                sub: "integrator:1".into(),
                sid: None,
                ..claims.clone()
            }),
        ),
        ("garbage", "not.a.token".into()),
        ("empty", String::new()),
    ];
    // A valid signature made with another key under the same kid.
    let other = api::auth::TokenIssuer::new(
        api::auth::KeySet::generate("test-key"),
        &app.state.settings.auth,
    );
    bad.push((
        "signed by another key",
        other.sign(&claims).unwrap_or_default(),
    ));
    let foreign = api::auth::TokenIssuer::new(
        api::auth::KeySet::generate("unknown-kid"),
        &app.state.settings.auth,
    );
    bad.push(("unknown kid", foreign.sign(&claims).unwrap_or_default()));
    // Tampered payload: the signature no longer matches.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = b64(
        &json!({"sub": "1", "sid": claims.sid, "iss": claims.iss, "aud": claims.aud, "exp": now + 900, "nbf": now, "iat": now, "jti": "x"}),
    );
    bad.push(("tampered", parts.join(".")));
    let payload = b64(&serde_json::to_value(&claims).unwrap_or_default());
    bad.push((
        "alg none",
        format!(
            "{}.{payload}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": "test-key"}))
        ),
    ));
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("test-key".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"the public key, or any other secret"),
    )
    .unwrap_or_default();
    bad.push(("HS256", hs256));

    assert_eq!(
        app.get_as(&good, "/api/v1/me").await.status,
        200,
        "the unmodified token works"
    );
    for (name, token) in bad {
        let reply = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(reply.status, 401, "{name} must be refused");
        reply.assert_problem(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{name}");
    }
    let basic = app
        .call(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("Authorization", "Basic ZGVtbzpkZW1v")),
        )
        .await;
    basic.assert_problem(401, "unauthorized");
}

async fn bad_bodies_are_named_problems(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let post = |body: &str, content_type: &str| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .insert_header(("Content-Type", content_type.to_owned()))
            .set_payload(body.to_owned())
    };
    app.call(post(r#"{"login":"a","password":"b"}"#, "text/plain"))
        .await
        .assert_problem(415, "unsupported_media_type");
    app.call(post(r#"{"login":"a","#, "application/json"))
        .await
        .assert_problem(400, "bad_request");
    let missing = app
        .call(post(r#"{"login":"a"}"#, "application/json"))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(missing["errors"][0]["field"], "password");
    assert_eq!(missing["errors"][0]["code"], "required");
    let typed = app
        .call(post(r#"{"login":5,"password":"b"}"#, "application/json"))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(typed["errors"][0]["field"], "login");
    // Mass assignment: a field the caller may not set is refused by name.
    let extra = app
        .call(post(
            r#"{"login":"demo-admin","password":"demo-password","role":"school_admin"}"#,
            "application/json",
        ))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(extra["errors"][0]["field"], "role");
    assert_eq!(extra["errors"][0]["code"], "unknown_field");
    let long = app
        .call(post(
            &format!(r#"{{"login":"{}","password":"b"}}"#, "x".repeat(300)),
            "application/json",
        ))
        .await;
    assert_eq!(
        long.assert_problem(422, "validation_failed")["errors"][0]["field"],
        "login"
    );
    let huge = format!(r#"{{"login":"a","password":"{}"}}"#, "x".repeat(300 * 1024));
    app.call(post(&huge, "application/json"))
        .await
        .assert_problem(413, "payload_too_large");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested = app.call(post(&deep, "application/json")).await;
    assert!(
        matches!(nested.status.as_u16(), 400 | 422),
        "deep nesting: {}",
        nested.status
    );
    assert_eq!(
        nested.header("content-type"),
        Some("application/problem+json")
    );
    // And the server still serves.
    assert_eq!(app.login("demo-admin", "demo-password").await.status, 200);
}

/// Each server process keeps people's grants in memory by the version the database gives
/// them. A grant taken away by hand in the database, or through another process, counts at
/// the very next request in every process.
async fn grants_changed_anywhere_count_at_the_next_request(backend: Backend) {
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
    use persistence::schema::guardianships;

    let app = TestApp::new(backend).with_demo();
    let other = app.another_process();
    let get = |token: &str, path: &str| {
        TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
    };
    let (parent, _) = app.tokens("demo-parent").await;
    let me = app.get_as(&parent, "/api/v1/me").await.json();
    let parent_id = me["id"].as_i64().unwrap_or_default();
    let child = me["children"][0]["id"].as_i64().unwrap_or_default();
    let diary = format!("/api/v1/students/{child}/diary?from=2026-11-23&to=2026-11-29");
    // Both processes have now loaded and kept the parent's grants.
    assert_eq!(app.get_as(&parent, &diary).await.status, 200);
    assert_eq!(
        call_on(other.clone(), get(&parent, &diary)).await.status,
        200
    );
    assert_eq!(app.get_as(&parent, &diary).await.status, 200);

    // Unlinked by hand, past every code path of the server.
    let mut conn = app.pool().get().unwrap_or_else(|e| panic!("{e}"));
    let removed = diesel::delete(
        guardianships::table
            .filter(guardianships::parent_user_id.eq(parent_id))
            .filter(guardianships::student_id.eq(child)),
    )
    .execute(&mut conn)
    .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    assert_eq!(removed, 1);
    app.get_as(&parent, &diary)
        .await
        .assert_problem(404, "not_found");
    call_on(other.clone(), get(&parent, &diary))
        .await
        .assert_problem(404, "not_found");

    // The teacher's roles revoked through the other process.
    let (teacher, _) = app.tokens("demo-teacher").await;
    let teacher_id = app.get_as(&teacher, "/api/v1/me").await.json()["id"]
        .as_i64()
        .unwrap_or_default();
    // A child of the demo parent is in the demo teacher's class.
    let mut pupils_diary = String::new();
    for child in me["children"].as_array().cloned().unwrap_or_default() {
        let path = format!(
            "/api/v1/students/{}/diary?from=2026-11-23&to=2026-11-29",
            child["id"]
        );
        if app.get_as(&teacher, &path).await.status == 200 {
            pupils_diary = path;
        }
    }
    assert!(
        !pupils_diary.is_empty(),
        "the teacher reads a child's diary"
    );
    let (admin, _) = app.tokens("demo-admin").await;
    let school = me["schools"][0]["id"].as_i64().unwrap_or_default();
    let person_path = format!("/api/v1/schools/{school}/people/{teacher_id}");
    let person = call_on(other.clone(), get(&admin, &person_path))
        .await
        .expect(200)
        .json();
    let roles = person["roles"].as_array().cloned().unwrap_or_default();
    assert_eq!(roles.len(), 2, "{person}");
    for role in roles {
        let id = role["id"].as_i64().unwrap_or_default();
        let revoke = TestRequest::delete()
            .uri(&format!("{person_path}/roles/{id}"))
            .insert_header(("Authorization", format!("Bearer {admin}")));
        assert_eq!(call_on(other.clone(), revoke).await.status, 204);
    }
    app.get_as(&teacher, &pupils_diary)
        .await
        .assert_problem(403, "forbidden");
}
