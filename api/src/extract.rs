//! `ValidJson<T>`: a JSON body that is read within the size limit, deserialised with the path of
//! any field at fault, free of unknown fields (request types deny them: no mass assignment), and
//! validated; every failure is a problem that names the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, error::PayloadError, http::header, web};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, FieldError};

/// A validated JSON request body.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> std::ops::Deref for ValidJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let limit = req
            .app_data::<web::Data<crate::AppState>>()
            .map_or(256 * 1024, |s| s.settings.server.body_limit_bytes);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::UnsupportedMediaType {
                    expected: "application/json",
                });
            }
            let bytes = body.await.map_err(|e| unread(&e, limit))?;
            let value = parse::<T>(&bytes)?;
            value
                .validate()
                .map_err(|e| ApiError::Validation(field_errors(&e)))?;
            Ok(Self(value))
        })
    }
}

/// Why a body of at most `limit` bytes could not be read: too large (413), too slow (408, see
/// [`crate::body_deadline`]), or cut off (400).
pub fn unread(error: &actix_web::Error, limit: usize) -> ApiError {
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
        Some(e) if crate::body_deadline::passed(e) => ApiError::RequestTimeout,
        _ => ApiError::BadRequest("the body could not be read".to_owned()),
    }
}

/// Deserialises `bytes`, naming the field at fault.
///
/// # Errors
/// 400 for malformed JSON, 422 naming the field for a wrong type, a missing or an unknown field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("malformed JSON: {inner}"));
        }
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        let (field, code) = if let Some(name) = backtick_name(&message, "unknown field `") {
            // The path already ends with the unknown field's name.
            (if path == "." { name } else { path }, "unknown_field")
        } else if let Some(name) = backtick_name(&message, "missing field `") {
            (join(&path, &name), "required")
        } else {
            (
                if path == "." { "body".to_owned() } else { path },
                "invalid_type",
            )
        };
        ApiError::field(field, code, message)
    })
}

fn backtick_name(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_owned)
}

fn join(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Flattens validator's nested errors into `field` paths like `grades[3].value`.
#[must_use]
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e
                    .message
                    .as_ref()
                    .map_or_else(|| e.code.to_string(), ToString::to_string);
                FieldError::new(path.clone(), e.code.to_string(), message)
            })),
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// What an `If-Match` header asks (RFC 9110, section 13.1.1), for the writes that take one
/// optionally (a lesson's plan, attendance and individual homework): nothing when it is left
/// out or is `*`; otherwise one of the entity tags listed, compared strongly, so a weak tag
/// (`W/"…"`) or an unquoted one matches nothing. A request without it writes as before.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    /// The condition for the write.
    #[must_use]
    pub fn expected(&self) -> persistence::Expected<'_> {
        self.0.as_deref().map_or(
            persistence::Expected::Anything,
            persistence::Expected::OneOf,
        )
    }

    fn parse<'a>(values: impl Iterator<Item = &'a header::HeaderValue>) -> Self {
        let Some(items) = EntityTag::list(values) else {
            return Self(None);
        };
        // `*` stands alone; in a list it is malformed and matches nothing itself.
        if matches!(items.as_slice(), [EntityTag::Any]) {
            return Self(None);
        }
        Self(Some(
            items
                .into_iter()
                .filter_map(|item| match item {
                    EntityTag::Strong(tag) => Some(tag),
                    _ => None,
                })
                .collect(),
        ))
    }
}

/// One item of an `If-Match` or `If-None-Match` list (RFC 9110, section 8.8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
enum EntityTag {
    /// `*`.
    Any,
    /// `"…"`: the opaque tag without its quotes.
    Strong(String),
    /// `W/"…"`.
    Weak(String),
    /// Anything else, or a value that is not text: names no tag we gave.
    Malformed,
}

impl EntityTag {
    /// The items of every value of the header, in order; `None` when it is left out.
    fn list<'a>(values: impl Iterator<Item = &'a header::HeaderValue>) -> Option<Vec<Self>> {
        let mut present = false;
        let mut items = Vec::new();
        for value in values {
            present = true;
            let Ok(text) = value.to_str() else {
                items.push(Self::Malformed);
                continue;
            };
            items.extend(text.split(',').map(str::trim).map(Self::parse));
        }
        present.then_some(items)
    }

    fn parse(item: &str) -> Self {
        let quoted = |t: &str| {
            t.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .map(str::to_owned)
        };
        if item == "*" {
            Self::Any
        } else if let Some(tag) = quoted(item) {
            Self::Strong(tag)
        } else if let Some(tag) = item.strip_prefix("W/").and_then(quoted) {
            Self::Weak(tag)
        } else {
            Self::Malformed
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self::parse(
            req.headers().get_all(actix_web::http::header::IF_MATCH),
        )))
    }
}

/// What an `If-None-Match` header asks (RFC 9110, section 13.1.2), for the reads that answer
/// with an `ETag` (a student's diary, a class's journal page): whether the caller's copy, named
/// by its entity tag, is still current. Tags compare weakly (`W/"…"` matches `"…"`); `*` on
/// its own matches any answer, and in a list it is malformed and matches nothing itself, as
/// for `If-Match`; an item that is not a tag matches nothing.
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch {
    any: bool,
    tags: Vec<String>,
}

impl IfNoneMatch {
    /// Whether `tag` (quoted, as [`conditional_json`] gives it) is one the caller holds.
    #[must_use]
    pub fn matches(&self, tag: &str) -> bool {
        self.any
            || tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .is_some_and(|opaque| self.tags.iter().any(|held| held == opaque))
    }

    fn parse<'a>(values: impl Iterator<Item = &'a header::HeaderValue>) -> Self {
        let items = EntityTag::list(values).unwrap_or_default();
        Self {
            any: matches!(items.as_slice(), [EntityTag::Any]),
            tags: items
                .into_iter()
                .filter_map(|item| match item {
                    EntityTag::Strong(tag) | EntityTag::Weak(tag) => Some(tag),
                    EntityTag::Any | EntityTag::Malformed => None,
                })
                .collect(),
        }
    }
}

impl FromRequest for IfNoneMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self::parse(
            req.headers().get_all(header::IF_NONE_MATCH),
        )))
    }
}

/// A read's JSON answer with an `ETag` of its bytes (a SHA-256 prefix), or `304 Not Modified`
/// without a body when `held` names it: a phone on a bad connection that opens the same diary
/// again downloads nothing unless something changed. Only called once the caller was allowed
/// to read, so a `304` tells nothing a `200` would not. `Cache-Control: private, no-cache`:
/// kept by the caller's app alone and asked again each time.
///
/// # Errors
/// [`ApiError::Internal`] when the value cannot be serialised.
pub fn conditional_json<T: serde::Serialize>(
    held: &IfNoneMatch,
    value: &T,
) -> Result<actix_web::HttpResponse, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::Internal(format!("serialising an answer: {e}")))?;
    // The first 128 bits of the digest, in hex.
    let tag = format!("\"{}\"", &crate::auth::tokens::sha256_hex(&body)[..32]);
    let caching = (header::CACHE_CONTROL, "private, no-cache");
    if held.matches(&tag) {
        return Ok(actix_web::HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .insert_header(caching)
            .finish());
    }
    Ok(actix_web::HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .insert_header(caching)
        .content_type(header::ContentType::json())
        .body(body))
}

/// The entity tag of a fingerprint (see `persistence::precondition`), as a header and body
/// field carry it.
#[must_use]
pub fn etag(fingerprint: &str) -> String {
    format!("\"{fingerprint}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        #[validate(range(min = 1, max = 5, message = "must be between 1 and 5"))]
        value: i64,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        #[validate(length(min = 1, message = "must not be empty"))]
        name: String,
        #[validate(nested)]
        entries: Vec<Entry>,
    }

    fn problem_fields(result: Result<Batch, ApiError>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::Validation(errors)) => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn wrong_types_missing_and_unknown_fields_are_named() {
        let r = parse::<Batch>(br#"{"name": "a", "entries": [{"value": 1}, {"value": "x"}]}"#);
        assert_eq!(
            problem_fields(r),
            vec![("entries[1].value".into(), "invalid_type".into())]
        );
        let r = parse::<Batch>(br#"{"entries": []}"#);
        assert_eq!(problem_fields(r), vec![("name".into(), "required".into())]);
        let r = parse::<Batch>(br#"{"name": "a", "entries": [], "school_id": 2}"#);
        assert_eq!(
            problem_fields(r),
            vec![("school_id".into(), "unknown_field".into())]
        );
        let r = parse::<Batch>(br#"{"name": "a", "entries": [{"value": 1, "role": "admin"}]}"#);
        assert_eq!(
            problem_fields(r),
            vec![("entries[0].role".into(), "unknown_field".into())]
        );
        assert!(matches!(
            parse::<Batch>(b"{\"name\": "),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse::<Batch>(b"{\"name\": \"a\",}"),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn rule_violations_are_named_with_their_index() {
        let batch = parse::<Batch>(br#"{"name": "", "entries": [{"value": 3}, {"value": 9}]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let errors = batch
            .validate()
            .map_err(|e| field_errors(&e))
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("entries[1].value", "must be between 1 and 5"),
                ("name", "must not be empty")
            ]
        );
    }

    fn expected_tags(headers: &[&str]) -> Option<Vec<String>> {
        let values: Vec<header::HeaderValue> = headers
            .iter()
            .map(|h| header::HeaderValue::from_str(h).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        IfMatch::parse(values.iter()).0
    }

    #[test]
    fn if_match_lists_strong_tags_and_star_or_nothing_asks_nothing() {
        assert_eq!(expected_tags(&[]), None);
        assert_eq!(expected_tags(&["*"]), None);
        assert_eq!(expected_tags(&["\"a\", *"]), Some(vec!["a".to_owned()]));
        assert_eq!(
            expected_tags(&["\"a\", W/\"b\",c", "\"d\""]),
            Some(vec!["a".to_owned(), "d".to_owned()])
        );
        assert_eq!(expected_tags(&["*", "W/\"a\""]), Some(Vec::new()));
        // Present but naming no strong tag: nothing matches it.
        assert_eq!(expected_tags(&["W/\"a\""]), Some(Vec::new()));
        assert_eq!(etag("plan1-00"), "\"plan1-00\"");
    }

    fn none_match(headers: &[&str]) -> IfNoneMatch {
        let values: Vec<header::HeaderValue> = headers
            .iter()
            .map(|h| header::HeaderValue::from_str(h).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        IfNoneMatch::parse(values.iter())
    }

    #[test]
    fn if_none_match_compares_weakly_and_star_only_alone() {
        let current = "\"abc\"";
        assert!(!none_match(&[]).matches(current));
        assert!(none_match(&["\"abc\""]).matches(current));
        assert!(none_match(&["W/\"abc\""]).matches(current));
        assert!(none_match(&["\"x\", W/\"abc\""]).matches(current));
        assert!(none_match(&["\"x\"", "\"abc\""]).matches(current));
        assert!(none_match(&["*"]).matches(current));
        assert!(!none_match(&["\"x\""]).matches(current));
        assert!(!none_match(&["abc"]).matches(current), "unquoted");
        assert!(!none_match(&["\"x\", *"]).matches(current), "* in a list");
        assert!(!none_match(&["*", "\"x\""]).matches(current), "* in a list");
        assert!(
            !none_match(&["\"abc\""]).matches("abc"),
            "our tag is quoted"
        );
    }
}
