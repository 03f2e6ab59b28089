use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use super::*;
use crate::auth::config::{NkeyConfig, SubjectPermission, UserConfig};

/// Cost 4 is bcrypt's minimum: fast enough for tests, same code path as cost 10+.
const TEST_BCRYPT_COST: u32 = 4;

fn secret(s: &str) -> Secret {
    Secret(s.to_string())
}

fn user(name: &str, password: &str) -> UserConfig {
    UserConfig {
        user: name.into(),
        password: secret(password),
        permissions: None,
    }
}

fn publish_only(subject: &str) -> PermissionsConfig {
    PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: Some(vec![subject.into()]),
            deny: None,
        }),
        ..Default::default()
    }
}

fn user_pass<'a>(user: &'a str, pass: &'a str) -> Credentials<'a> {
    Credentials {
        user: Some(user),
        pass: Some(pass),
        ..Default::default()
    }
}

fn nkey_creds<'a>(nkey: &'a str, sig: &'a str) -> Credentials<'a> {
    Credentials {
        nkey: Some(nkey),
        sig: Some(sig),
        ..Default::default()
    }
}

#[test]
fn without_auth_anyone_connects_unrestricted() {
    let auth = Authenticator::new(&AuthConfig::default()).unwrap();
    assert!(!auth.required());
    assert!(!auth.expects_connect());
    assert!(!auth.needs_nonce());
    let id = auth.authenticate(&user_pass("who", "ever"), b"").unwrap();
    assert_eq!(
        *id,
        UserIdentity {
            name: String::new(),
            kind: IdentityKind::Anonymous,
            permissions: None,
            account: crate::account::GLOBAL_ACCOUNT,
            account_name: "$G".into(),
        }
    );
}

#[test]
fn users_list_checks_plain_passwords() {
    let auth = Authenticator::new(&AuthConfig {
        users: vec![user("alice", "s3cret"), user("bob", "other")],
        ..Default::default()
    })
    .unwrap();
    assert!(auth.required());
    assert!(!auth.needs_nonce());
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", "s3cret"))
            .unwrap()
            .name,
        "alice"
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", "other")),
        Err(AuthError::WrongPassword)
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", "s3cre")),
        Err(AuthError::WrongPassword)
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("carol", "s3cret")),
        Err(AuthError::UnknownUser)
    );
    assert_eq!(
        auth.authenticate_no_nonce(&Credentials::default()),
        Err(AuthError::NoCredentials)
    );
}

impl Authenticator {
    /// Tests without nkeys sign nothing.
    fn authenticate_no_nonce(&self, c: &Credentials<'_>) -> Result<Arc<UserIdentity>, AuthError> {
        self.authenticate(c, b"")
    }
}

#[test]
fn users_list_checks_bcrypt_passwords() {
    let hash = bcrypt::hash("s3cret", TEST_BCRYPT_COST).unwrap();
    assert!(is_bcrypt(&hash));
    let auth = Authenticator::new(&AuthConfig {
        users: vec![UserConfig {
            user: "alice".into(),
            password: Secret(hash.clone()),
            permissions: None,
        }],
        ..Default::default()
    })
    .unwrap();
    assert!(auth
        .authenticate_no_nonce(&user_pass("alice", "s3cret"))
        .is_ok());
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", "wrong")),
        Err(AuthError::WrongPassword)
    );
    // The hash itself is not the password.
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", &hash)),
        Err(AuthError::WrongPassword)
    );
}

#[test]
fn bcrypt_is_recognised_by_its_prefix_only() {
    assert!(is_bcrypt("$2a$10$abc"));
    assert!(is_bcrypt("$2b$04$abc"));
    assert!(is_bcrypt("$2x$11$"));
    assert!(is_bcrypt("$2y$12$abc"));
    assert!(!is_bcrypt("$2z$10$abc"));
    assert!(!is_bcrypt("$2a$1$abc"));
    assert!(!is_bcrypt("2a$10$abc"));
    assert!(!is_bcrypt("$2a$10"));
    // A password that merely looks like a hash is compared as a (failing) hash, as nats-server.
    let auth = Authenticator::new(&AuthConfig {
        token: Some(secret("$2a$10$notahash")),
        ..Default::default()
    })
    .unwrap();
    let creds = Credentials {
        auth_token: Some("$2a$10$notahash"),
        ..Default::default()
    };
    assert_eq!(
        auth.authenticate_no_nonce(&creds),
        Err(AuthError::WrongToken)
    );
}

#[test]
fn token_authenticates_without_name_or_permissions() {
    let auth = Authenticator::new(&AuthConfig {
        token: Some(secret("t0k3n")),
        permissions: Some(publish_only("foo")),
        ..Default::default()
    })
    .unwrap();
    assert!(auth.required());
    let id = auth
        .authenticate_no_nonce(&Credentials {
            auth_token: Some("t0k3n"),
            ..Default::default()
        })
        .unwrap();
    // nats-server does not apply authorization { permissions } to a token [verified].
    assert_eq!(
        *id,
        UserIdentity {
            name: String::new(),
            kind: IdentityKind::Token,
            permissions: None,
            account: crate::account::GLOBAL_ACCOUNT,
            account_name: "$G".into(),
        }
    );
    let wrong = Credentials {
        auth_token: Some("t0k3"),
        ..Default::default()
    };
    assert_eq!(
        auth.authenticate_no_nonce(&wrong),
        Err(AuthError::WrongToken)
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("a", "t0k3n")),
        Err(AuthError::WrongToken)
    );
}

#[test]
fn bcrypt_token_is_verified() {
    let hash = bcrypt::hash("t0k3n", TEST_BCRYPT_COST).unwrap();
    let auth = Authenticator::new(&AuthConfig {
        token: Some(Secret(hash)),
        ..Default::default()
    })
    .unwrap();
    let creds = Credentials {
        auth_token: Some("t0k3n"),
        ..Default::default()
    };
    assert!(auth.authenticate_no_nonce(&creds).is_ok());
}

#[test]
fn single_user_needs_both_name_and_password() {
    let auth = Authenticator::new(&AuthConfig {
        user: Some("admin".into()),
        password: Some(secret("pw")),
        permissions: Some(publish_only("foo")),
        ..Default::default()
    })
    .unwrap();
    let id = auth
        .authenticate_no_nonce(&user_pass("admin", "pw"))
        .unwrap();
    assert_eq!(
        *id,
        UserIdentity {
            name: "admin".into(),
            kind: IdentityKind::User,
            permissions: None,
            account: crate::account::GLOBAL_ACCOUNT,
            account_name: "$G".into(),
        }
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("admin", "pw2")),
        Err(AuthError::WrongPassword)
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("root", "pw")),
        Err(AuthError::UnknownUser)
    );
    let token_only = Credentials {
        auth_token: Some("pw"),
        ..Default::default()
    };
    assert_eq!(
        auth.authenticate_no_nonce(&token_only),
        Err(AuthError::UnknownUser)
    );
}

#[test]
fn nkey_user_signs_the_nonce() {
    let kp = nkeys::KeyPair::new_user();
    let public = kp.public_key();
    let auth = Authenticator::new(&AuthConfig {
        nkeys: vec![NkeyConfig {
            nkey: public.clone(),
            permissions: Some(publish_only("foo")),
        }],
        ..Default::default()
    })
    .unwrap();
    assert!(auth.required());
    assert!(auth.needs_nonce());

    let nonce = crate::auth::new_nonce();
    let sig = kp.sign(nonce.as_bytes()).unwrap();
    let url = URL_SAFE_NO_PAD.encode(&sig);
    let id = auth
        .authenticate(&nkey_creds(&public, &url), nonce.as_bytes())
        .unwrap();
    assert_eq!(id.name, public);
    assert!(!id.permissions.as_ref().unwrap().publish_allowed(b"bar"));
    let std = STANDARD.encode(&sig);
    assert!(auth
        .authenticate(&nkey_creds(&public, &std), nonce.as_bytes())
        .is_ok());

    // A signature over another nonce, by another key, or none at all.
    let other_nonce = crate::auth::new_nonce();
    assert_eq!(
        auth.authenticate(&nkey_creds(&public, &url), other_nonce.as_bytes()),
        Err(AuthError::SignatureNotVerified)
    );
    let intruder = nkeys::KeyPair::new_user();
    let forged = URL_SAFE_NO_PAD.encode(intruder.sign(nonce.as_bytes()).unwrap());
    assert_eq!(
        auth.authenticate(&nkey_creds(&public, &forged), nonce.as_bytes()),
        Err(AuthError::SignatureNotVerified)
    );
    assert_eq!(
        auth.authenticate(
            &nkey_creds(&intruder.public_key(), &forged),
            nonce.as_bytes()
        ),
        Err(AuthError::UnknownNkey)
    );
    let no_sig = Credentials {
        nkey: Some(&public),
        ..Default::default()
    };
    assert_eq!(
        auth.authenticate(&no_sig, nonce.as_bytes()),
        Err(AuthError::SignatureMissing)
    );
    assert_eq!(
        auth.authenticate(&nkey_creds(&public, "***"), nonce.as_bytes()),
        Err(AuthError::SignatureNotBase64)
    );
}

#[test]
fn nkeys_are_checked_before_the_users_list() {
    let kp = nkeys::KeyPair::new_user();
    let auth = Authenticator::new(&AuthConfig {
        users: vec![user("alice", "pw")],
        nkeys: vec![NkeyConfig {
            nkey: kp.public_key(),
            permissions: None,
        }],
        ..Default::default()
    })
    .unwrap();
    // A CONNECT naming an unknown nkey fails even with a good user and password.
    let mixed = Credentials {
        nkey: Some("UNKNOWN"),
        ..user_pass("alice", "pw")
    };
    assert_eq!(auth.authenticate(&mixed, b"n"), Err(AuthError::UnknownNkey));
    assert_eq!(
        auth.authenticate(&user_pass("alice", "pw"), b"n")
            .unwrap()
            .name,
        "alice"
    );
}

#[test]
fn default_permissions_go_to_users_without_their_own() {
    let auth = Authenticator::new(&AuthConfig {
        users: vec![
            user("plain", "pw"),
            UserConfig {
                permissions: Some(publish_only("own")),
                ..user("special", "pw")
            },
        ],
        default_permissions: Some(publish_only("default")),
        ..Default::default()
    })
    .unwrap();
    let plain = auth
        .authenticate_no_nonce(&user_pass("plain", "pw"))
        .unwrap();
    let plain = plain.permissions.as_ref().unwrap();
    assert!(plain.publish_allowed(b"default") && !plain.publish_allowed(b"own"));
    let special = auth
        .authenticate_no_nonce(&user_pass("special", "pw"))
        .unwrap();
    let special = special.permissions.as_ref().unwrap();
    assert!(special.publish_allowed(b"own") && !special.publish_allowed(b"default"));

    // authorization { permissions } is the same key to nats-server.
    let auth = Authenticator::new(&AuthConfig {
        users: vec![user("plain", "pw")],
        permissions: Some(publish_only("alias")),
        ..Default::default()
    })
    .unwrap();
    let id = auth
        .authenticate_no_nonce(&user_pass("plain", "pw"))
        .unwrap();
    assert!(!id.permissions.as_ref().unwrap().publish_allowed(b"other"));
}

#[test]
fn no_auth_user_binds_connects_without_credentials() {
    let auth = Authenticator::new(&AuthConfig {
        users: vec![
            UserConfig {
                permissions: Some(publish_only("guest.>")),
                ..user("guest", "pw")
            },
            user("alice", "pw2"),
        ],
        no_auth_user: Some("guest".into()),
        ..Default::default()
    })
    .unwrap();
    // INFO says auth_required false, but the auth timer still runs [verified].
    assert!(!auth.required());
    assert!(auth.expects_connect());
    let id = auth.authenticate_no_nonce(&Credentials::default()).unwrap();
    assert_eq!(id.name, "guest");
    assert!(id.permissions.is_some());
    // Credentials, when given, are checked as usual.
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", "pw2"))
            .unwrap()
            .name,
        "alice"
    );
    assert_eq!(
        auth.authenticate_no_nonce(&user_pass("alice", "bad")),
        Err(AuthError::WrongPassword)
    );
}

#[test]
fn no_auth_user_with_bcrypt_password_binds_too() {
    let hash = bcrypt::hash("pw", TEST_BCRYPT_COST).unwrap();
    let auth = Authenticator::new(&AuthConfig {
        users: vec![UserConfig {
            user: "guest".into(),
            password: Secret(hash),
            permissions: None,
        }],
        no_auth_user: Some("guest".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        auth.authenticate_no_nonce(&Credentials::default())
            .unwrap()
            .name,
        "guest"
    );
}

#[test]
fn no_auth_user_may_be_an_nkey() {
    let kp = nkeys::KeyPair::new_user();
    let public = kp.public_key();
    let auth = Authenticator::new(&AuthConfig {
        nkeys: vec![NkeyConfig {
            nkey: public.clone(),
            permissions: None,
        }],
        no_auth_user: Some(public.clone()),
        ..Default::default()
    })
    .unwrap();
    assert!(!auth.required());
    assert!(auth.needs_nonce());
    assert_eq!(
        auth.authenticate(&Credentials::default(), b"nonce")
            .unwrap()
            .name,
        public
    );
}

#[test]
fn constant_time_compare_is_plain_equality() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

#[test]
fn configurations_nats_server_refuses_are_refused() {
    let kp = nkeys::KeyPair::new_user();
    let cases: Vec<(AuthConfig, AuthConfigError)> = vec![
        (
            AuthConfig {
                user: Some("a".into()),
                password: Some(secret("b")),
                token: Some(secret("t")),
                ..Default::default()
            },
            AuthConfigError::UserAndToken,
        ),
        (
            AuthConfig {
                user: Some("a".into()),
                users: vec![user("b", "c")],
                ..Default::default()
            },
            AuthConfigError::UserAndUsersList,
        ),
        (
            AuthConfig {
                token: Some(secret("t")),
                users: vec![user("b", "c")],
                ..Default::default()
            },
            AuthConfigError::TokenAndUsersList,
        ),
        (
            AuthConfig {
                users: vec![user("b", "c"), user("b", "d")],
                ..Default::default()
            },
            AuthConfigError::DuplicateUser("b".into()),
        ),
        (
            AuthConfig {
                nkeys: vec![
                    NkeyConfig {
                        nkey: kp.public_key(),
                        permissions: None,
                    },
                    NkeyConfig {
                        nkey: kp.public_key(),
                        permissions: None,
                    },
                ],
                ..Default::default()
            },
            AuthConfigError::DuplicateNkey(kp.public_key()),
        ),
        (
            AuthConfig {
                nkeys: vec![NkeyConfig {
                    nkey: nkeys::KeyPair::new_account().public_key(),
                    permissions: None,
                }],
                ..Default::default()
            },
            AuthConfigError::InvalidNkey(String::new()),
        ),
        (
            AuthConfig {
                token: Some(secret("t")),
                no_auth_user: Some("x".into()),
                ..Default::default()
            },
            AuthConfigError::NoAuthUserWithoutUsers("x".into()),
        ),
        (
            AuthConfig {
                users: vec![user("b", "c")],
                no_auth_user: Some("x".into()),
                ..Default::default()
            },
            AuthConfigError::NoAuthUserUnknown("x".into()),
        ),
    ];
    for (config, expected) in cases {
        let got = Authenticator::new(&config).unwrap_err();
        match (&got, &expected) {
            (AuthConfigError::InvalidNkey(_), AuthConfigError::InvalidNkey(_)) => {}
            _ => assert_eq!(got, expected),
        }
    }
}

#[test]
fn invalid_permissions_name_their_owner() {
    let bad = PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: Some(vec!["a..b".into()]),
            deny: None,
        }),
        ..Default::default()
    };
    let err = Authenticator::new(&AuthConfig {
        users: vec![UserConfig {
            permissions: Some(bad),
            ..user("alice", "pw")
        }],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid permissions for user \"alice\": publish allow: subject \"a..b\" is not a valid subject"
    );
}

#[test]
fn config_error_texts_follow_nats_server() {
    assert_eq!(
        AuthConfigError::NoAuthUserUnknown("x".into()).to_string(),
        "no_auth_user: \"x\" not present as user or nkey in authorization block or account \
         configuration"
    );
    assert_eq!(
        AuthConfigError::TokenAndUsersList.to_string(),
        "Can not have a token and a users array"
    );
}

#[test]
fn authenticator_is_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Authenticator>();
    shared::<UserIdentity>();
}

#[test]
fn identities_are_named_in_logs_as_nats_server_names_them() {
    let named = |kind, name: &str| {
        UserIdentity {
            name: name.into(),
            kind,
            permissions: None,
            account: crate::account::GLOBAL_ACCOUNT,
            account_name: "$G".into(),
        }
        .log_name()
    };
    assert_eq!(named(IdentityKind::Anonymous, ""), None);
    assert_eq!(named(IdentityKind::Token, "").as_deref(), Some("$G/token"));
    assert_eq!(
        named(IdentityKind::User, "bob").as_deref(),
        Some("$G/user:bob")
    );
    assert_eq!(
        named(IdentityKind::Nkey, "UAB").as_deref(),
        Some("$G/nkey:UAB")
    );
}
