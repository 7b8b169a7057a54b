//! Token text, hashing, grants, expiry and revocation.

use super::*;

#[test]
fn generated_tokens_parse_and_differ() {
    let a = Token::generate().unwrap();
    let b = Token::generate().unwrap();
    assert_ne!(a, b);
    assert_ne!(a.id(), b.id());
    let text = a.expose();
    assert_eq!(text.len(), 3 + 12 + 1 + 64, "{text}");
    assert!(text.starts_with("rf_"));
    assert_eq!(&text[3..15], a.id().as_str());
    assert_eq!(Token::parse(text).unwrap(), a);
    assert_eq!(text.parse::<Token>().unwrap().id(), a.id());
}

#[test]
fn the_hash_is_blake3_of_the_whole_text() {
    let token = Token::generate().unwrap();
    let expected = blake3::hash(token.expose().as_bytes()).to_hex().to_string();
    assert_eq!(token.hash().as_str(), expected);
    assert_ne!(token.hash(), Token::generate().unwrap().hash());
}

#[test]
fn debug_never_shows_the_secret() {
    let token = Token::generate().unwrap();
    let secret = &token.expose()[16..];
    let shown = format!("{token:?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains(token.id().as_str()), "{shown}");
}

#[test]
fn malformed_tokens_are_refused() {
    let good = Token::generate().unwrap();
    let text = good.expose();
    for bad in [
        String::new(),
        "rf_".into(),
        "hello".into(),
        text[3..].to_owned(),
        text.replacen("rf_", "xx_", 1),
        text[..text.len() - 1].to_owned(),
        format!("{text}0"),
        text.to_uppercase(),
        text.replacen('_', "-", 2),
        format!("rf_{}_{}", &text[3..14], &text[15..]),
        format!("{}g", &text[..text.len() - 1]),
    ] {
        assert!(
            matches!(Token::parse(&bad), Err(AuthError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn the_header_needs_the_bearer_scheme() {
    let token = Token::generate().unwrap();
    let text = token.expose();
    assert_eq!(token_from_header(None), Err(AuthError::Missing));
    assert_eq!(
        token_from_header(Some(&format!("Bearer {text}"))).unwrap(),
        token
    );
    assert_eq!(
        token_from_header(Some(&format!("bearer  {text} "))).unwrap(),
        token
    );
    for bad in [
        text.to_owned(),
        format!("Basic {text}"),
        "Bearer".into(),
        "Bearer nope".into(),
    ] {
        assert!(
            matches!(token_from_header(Some(&bad)), Err(AuthError::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn roles_round_trip_through_text_and_json() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        assert_eq!(
            serde_json::to_value(role).unwrap(),
            serde_json::json!(role.as_str())
        );
    }
    assert!("root".parse::<Role>().unwrap_err().contains("submitter"));
}

#[test]
fn grants_bind_the_right_name_to_each_role() {
    assert_eq!(
        Grant::new(Role::Submitter, Some("acme"), None).unwrap(),
        Grant::Submitter {
            tenant: "acme".parse().unwrap()
        }
    );
    assert_eq!(
        Grant::new(Role::Provider, None, Some("Bob's GPUs"))
            .unwrap()
            .owner()
            .unwrap()
            .as_str(),
        "Bob's GPUs"
    );
    assert_eq!(Grant::new(Role::Admin, None, None).unwrap(), Grant::Admin);
    for (role, tenant, owner) in [
        (Role::Submitter, None, None),
        (Role::Submitter, Some("acme"), Some("bob")),
        (Role::Provider, None, None),
        (Role::Provider, Some("acme"), Some("bob")),
        (Role::Admin, Some("acme"), None),
        (Role::Admin, None, Some("bob")),
    ] {
        assert!(
            matches!(Grant::new(role, tenant, owner), Err(AuthError::BadGrant(_))),
            "{role} {tenant:?} {owner:?}"
        );
    }
    for tenant in ["", "a b", "a/b", "ü", &"x".repeat(65)] {
        assert!(
            matches!(
                Grant::new(Role::Submitter, Some(tenant), None),
                Err(AuthError::BadName(_))
            ),
            "{tenant:?}"
        );
    }
    for owner in ["", " bob", "bob\n"] {
        assert!(owner.parse::<Owner>().is_err(), "{owner:?}");
    }
}

#[test]
fn listed_tokens_flatten_the_grant() {
    let info = TokenInfo {
        id: "0123456789ab".parse().unwrap(),
        grant: Grant::Submitter {
            tenant: "acme".parse().unwrap(),
        },
        label: "ci".into(),
        created_ms: 1,
        expires_ms: None,
        revoked_ms: None,
    };
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["role"], "submitter");
    assert_eq!(json["tenant"], "acme");
    assert_eq!(
        serde_json::from_value::<TokenInfo>(json).unwrap(),
        info,
        "round trip"
    );
}

#[test]
fn revoked_and_expired_tokens_make_no_principal() {
    let mut info = TokenInfo {
        id: "0123456789ab".parse().unwrap(),
        grant: Grant::Admin,
        label: String::new(),
        created_ms: 0,
        expires_ms: Some(1_000),
        revoked_ms: None,
    };
    let principal = info.principal_at(999).unwrap();
    assert_eq!(principal.role(), Role::Admin);
    assert_eq!(principal.token_id, info.id);
    assert_eq!(
        info.principal_at(1_000),
        Err(AuthError::Expired(info.id.clone()))
    );
    info.expires_ms = None;
    assert!(info.principal_at(i64::MAX).is_ok());
    info.revoked_ms = Some(5);
    assert_eq!(
        info.principal_at(0),
        Err(AuthError::Revoked(info.id.clone()))
    );
}

#[test]
fn token_requests_check_label_and_expiry() {
    let request = TokenRequest::new(Grant::Admin, "ops", Some(2), 1_000).unwrap();
    assert_eq!(request.expires_ms, Some(1_000 + 2 * 86_400_000));
    assert_eq!(
        TokenRequest::new(Grant::Admin, "", None, 0)
            .unwrap()
            .expires_ms,
        None
    );
    assert_eq!(
        TokenRequest::new(Grant::Admin, "x", Some(0), 0),
        Err(AuthError::BadExpiry(0))
    );
    assert_eq!(
        TokenRequest::new(Grant::Admin, "x", Some(MAX_EXPIRY_DAYS + 1), 0),
        Err(AuthError::BadExpiry(MAX_EXPIRY_DAYS + 1))
    );
    assert_eq!(
        TokenRequest::new(Grant::Admin, "a\nb", None, 0),
        Err(AuthError::BadLabel)
    );
}

#[test]
fn times_are_shown_in_utc() {
    assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
    assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
    assert_eq!(format_utc(1_735_689_599_000), "2024-12-31 23:59 UTC");
}
