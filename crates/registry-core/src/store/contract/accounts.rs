//! The account port's contract: an identity is linked once, with its principal;
//! sessions are found by hash and end one by one or all together; a sign-in
//! attempt is taken at most once.
//!
//! Its times are in the future: a store with a time-to-live (DynamoDB, and
//! DynamoDB Local too) deletes lapsed sessions, attempts and grants on its own.

use std::sync::Arc;

use super::{at, conflict, race, single_winner};
use crate::account::{
    Account, DeviceGrant, DeviceGrantState, EmailAddress, Identity, LoginAttempt, OpaqueSecret,
    SessionId, SessionRecord, UserCode,
};
use crate::auth::{Principal, PrincipalId, PrincipalKind};
use crate::store::{AccountStore, Conflict, KeyStore};

/// Runs every account-store check; `keys` is the same store seen as the key port.
pub async fn account_store_contract(
    accounts: Arc<dyn AccountStore>,
    keys: Arc<dyn KeyStore>,
    prefix: &str,
) {
    let identity = Identity {
        issuer: "https://id.example".into(),
        subject: format!("{prefix}-subject-1"),
    };
    let account = Account {
        identity: identity.clone(),
        principal: PrincipalId::from_stored(format!("prn_{prefix}_person")),
        login: "ada".into(),
        email: EmailAddress::parse("ada@example.test"),
        created_at: at("2099-01-01T00:00:00Z"),
        signed_in_at: at("2099-01-01T00:00:00Z"),
    };
    let principal = Principal {
        id: account.principal.clone(),
        name: "ada".into(),
        kind: PrincipalKind::User,
        created_at: account.created_at,
    };
    assert!(accounts.account(&identity).await.unwrap().is_none());
    let results = race(|i| {
        let accounts = Arc::clone(&accounts);
        let mut account = account.clone();
        let mut principal = principal.clone();
        if i > 0 {
            // Each racer brings its own new principal, as concurrent first
            // sign-ins would: only the winner's may come to exist.
            account.principal = PrincipalId::from_stored(format!("{}_{i}", account.principal));
            principal.id = account.principal.clone();
        }
        async move { accounts.create_account(&account, &principal).await }
    })
    .await;
    let winner = single_winner(
        results,
        Conflict::AlreadyExists,
        "an identity is linked to one account",
    );
    let won = if winner == 0 {
        account.principal.clone()
    } else {
        PrincipalId::from_stored(format!("{}_{winner}", account.principal))
    };
    let stored = accounts.account(&identity).await.unwrap().expect("linked");
    assert_eq!(
        stored.principal, won,
        "the account names the winner's principal"
    );
    assert_eq!(
        keys.principal(&won).await.unwrap().map(|p| p.kind),
        Some(PrincipalKind::User),
        "the account's principal exists with it"
    );
    for loser in (0..super::RACERS).filter(|i| *i != winner) {
        let id = if loser == 0 {
            account.principal.clone()
        } else {
            PrincipalId::from_stored(format!("{}_{loser}", account.principal))
        };
        assert!(
            keys.principal(&id).await.unwrap().is_none(),
            "a lost first sign-in leaves no principal behind"
        );
    }

    assert_eq!(
        stored.email, account.email,
        "the verified address is kept with the account"
    );
    assert_eq!(
        accounts.account_of(&won).await.unwrap().as_ref(),
        Some(&stored),
        "the account is found by its principal too"
    );
    assert!(
        accounts
            .account_of(&PrincipalId::from_stored(format!("prn_{prefix}_nobody")))
            .await
            .unwrap()
            .is_none()
    );

    let moved = EmailAddress::parse("ada@new.example.test");
    accounts
        .record_sign_in(
            &identity,
            "ada-renamed",
            moved.as_ref(),
            at("2099-02-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let renamed = accounts.account(&identity).await.unwrap().expect("linked");
    assert_eq!(renamed.login, "ada-renamed");
    assert_eq!(
        renamed.email, moved,
        "a sign-in brings the address up to date"
    );
    assert_eq!(renamed.signed_in_at, at("2099-02-01T00:00:00Z"));
    assert_eq!(renamed.principal, won, "a rename keeps the principal");
    assert_eq!(renamed.created_at, account.created_at);
    let other_issuer = Identity {
        issuer: "https://other.example".into(),
        subject: identity.subject.clone(),
    };
    assert!(
        accounts.account(&other_issuer).await.unwrap().is_none(),
        "the same subject at another issuer is someone else"
    );
    accounts
        .record_sign_in(&identity, "ada-renamed", None, at("2099-02-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        accounts
            .account_of(&won)
            .await
            .unwrap()
            .and_then(|a| a.email),
        None,
        "an address the provider no longer vouches for is forgotten"
    );
    assert!(
        matches!(
            accounts
                .record_sign_in(&other_issuer, "eve", None, at("2099-02-02T00:00:00Z"))
                .await,
            Err(crate::store::StorageError::Conflict(Conflict::Missing))
        ),
        "a sign-in is recorded only on an account that exists"
    );

    sessions(&*accounts, &won, prefix).await;
    login_attempts(Arc::clone(&accounts), prefix).await;
    device_grants(Arc::clone(&accounts), &won, prefix).await;

    assert!(
        !accounts
            .delete_account_of(&PrincipalId::from_stored(format!("prn_{prefix}_nobody")))
            .await
            .unwrap(),
        "a principal without an account has none to delete"
    );
    assert!(accounts.delete_account_of(&won).await.unwrap());
    assert!(
        accounts.account(&identity).await.unwrap().is_none(),
        "a deleted account no longer answers for its identity"
    );
    assert!(
        accounts.account_of(&won).await.unwrap().is_none(),
        "nor for its principal: no notice goes to a deleted account"
    );
    assert!(
        keys.principal(&won).await.unwrap().is_some(),
        "the principal stays: its releases still name it"
    );
    let again = Account {
        principal: PrincipalId::from_stored(format!("prn_{prefix}_person_again")),
        ..account.clone()
    };
    accounts
        .create_account(
            &again,
            &Principal {
                id: again.principal.clone(),
                ..principal.clone()
            },
        )
        .await
        .expect("the identity can make a new account once the old one is deleted");
    assert_eq!(
        accounts
            .account(&identity)
            .await
            .unwrap()
            .map(|a| a.principal),
        Some(again.principal)
    );
}

async fn sessions(accounts: &dyn AccountStore, principal: &PrincipalId, prefix: &str) {
    let session = |n: usize| {
        let secret = OpaqueSecret::generate().unwrap();
        SessionRecord {
            id: SessionId::from_stored(format!("ses_{prefix}_{n}")),
            hash: secret.hash(),
            principal: principal.clone(),
            login: "ada".into(),
            created_at: at("2099-01-01T00:00:00Z"),
            expires_at: at("2099-01-08T00:00:00Z"),
        }
    };
    let (one, two) = (session(1), session(2));
    accounts.insert_session(&one).await.unwrap();
    accounts.insert_session(&two).await.unwrap();
    assert_eq!(
        conflict(accounts.insert_session(&one).await),
        Conflict::AlreadyExists
    );
    assert_eq!(
        accounts.session(&one.hash).await.unwrap(),
        Some(one.clone())
    );
    accounts.delete_session(&one.hash).await.unwrap();
    assert!(accounts.session(&one.hash).await.unwrap().is_none());
    accounts
        .delete_session(&one.hash)
        .await
        .expect("ending an ended session is no error");
    assert_eq!(
        accounts.session(&two.hash).await.unwrap(),
        Some(two.clone())
    );

    let third = session(3);
    accounts.insert_session(&third).await.unwrap();
    let stranger = SessionRecord {
        principal: PrincipalId::from_stored(format!("prn_{prefix}_stranger")),
        ..session(4)
    };
    accounts.insert_session(&stranger).await.unwrap();
    assert_eq!(accounts.delete_sessions_of(principal).await.unwrap(), 2);
    assert!(accounts.session(&two.hash).await.unwrap().is_none());
    assert!(accounts.session(&third.hash).await.unwrap().is_none());
    assert_eq!(
        accounts.session(&stranger.hash).await.unwrap(),
        Some(stranger),
        "signing out everywhere ends only that person's sessions"
    );
}

async fn login_attempts(accounts: Arc<dyn AccountStore>, prefix: &str) {
    let secret = OpaqueSecret::generate().unwrap();
    let attempt = LoginAttempt {
        hash: secret.hash(),
        provider: "oidc".into(),
        state: format!("state-{prefix}"),
        nonce: Some("nonce".into()),
        pkce_verifier: "verifier".into(),
        return_to: "/account".into(),
        expires_at: at("2099-01-01T00:10:00Z"),
    };
    accounts.insert_login_attempt(&attempt).await.unwrap();
    assert_eq!(
        conflict(accounts.insert_login_attempt(&attempt).await),
        Conflict::AlreadyExists
    );
    let taken = race(|_| {
        let accounts = Arc::clone(&accounts);
        let hash = attempt.hash;
        async move { accounts.take_login_attempt(&hash).await.unwrap() }
    })
    .await;
    let got: Vec<_> = taken.into_iter().flatten().collect();
    assert_eq!(
        got,
        vec![attempt],
        "a sign-in attempt is taken exactly once"
    );
    let none = LoginAttempt {
        nonce: None,
        ..got[0].clone()
    };
    let fresh = OpaqueSecret::generate().unwrap();
    let without_nonce = LoginAttempt {
        hash: fresh.hash(),
        ..none
    };
    accounts.insert_login_attempt(&without_nonce).await.unwrap();
    assert_eq!(
        accounts.take_login_attempt(&fresh.hash()).await.unwrap(),
        Some(without_nonce),
        "an attempt without a nonce (GitHub) round-trips"
    );
}

async fn device_grants(accounts: Arc<dyn AccountStore>, principal: &PrincipalId, prefix: &str) {
    let code = OpaqueSecret::generate().unwrap();
    let grant = DeviceGrant {
        hash: code.hash(),
        user_code: UserCode::generate().unwrap(),
        key_name: format!("{prefix} laptop"),
        created_at: at("2099-01-01T00:00:00Z"),
        expires_at: at("2099-01-01T00:10:00Z"),
        state: DeviceGrantState::Pending,
        last_polled_at: None,
    };
    accounts.insert_device_grant(&grant).await.unwrap();
    assert_eq!(
        conflict(accounts.insert_device_grant(&grant).await),
        Conflict::AlreadyExists
    );
    let other = OpaqueSecret::generate().unwrap();
    let same_code = DeviceGrant {
        hash: other.hash(),
        ..grant.clone()
    };
    assert_eq!(
        conflict(accounts.insert_device_grant(&same_code).await),
        Conflict::AlreadyExists,
        "a user code names one grant"
    );
    assert!(
        accounts
            .device_grant(&other.hash())
            .await
            .unwrap()
            .is_none(),
        "a refused grant leaves nothing behind"
    );
    assert_eq!(
        accounts.device_grant(&grant.hash).await.unwrap(),
        Some(grant.clone())
    );
    assert_eq!(
        accounts
            .device_grant_by_user_code(&grant.user_code)
            .await
            .unwrap(),
        Some(grant.clone())
    );

    let approved = DeviceGrantState::Approved {
        principal: principal.clone(),
        session: SessionId::from_stored(format!("ses_{prefix}_approver")),
    };
    let results = race(|i| {
        let accounts = Arc::clone(&accounts);
        let (hash, to) = if i.is_multiple_of(2) {
            (grant.hash, approved.clone())
        } else {
            (grant.hash, DeviceGrantState::Denied)
        };
        async move {
            accounts
                .change_device_grant(&hash, &DeviceGrantState::Pending, &to)
                .await
        }
    })
    .await;
    let winner = single_winner(results, Conflict::Missing, "a grant is decided once");
    let decided = accounts.device_grant(&grant.hash).await.unwrap().unwrap();
    if winner.is_multiple_of(2) {
        assert_eq!(decided.state, approved);
        let results = race(|_| {
            let accounts = Arc::clone(&accounts);
            let (hash, from) = (grant.hash, approved.clone());
            async move {
                accounts
                    .change_device_grant(&hash, &from, &DeviceGrantState::Redeemed)
                    .await
            }
        })
        .await;
        single_winner(
            results,
            Conflict::Missing,
            "an approved grant is redeemed once",
        );
    } else {
        assert_eq!(decided.state, DeviceGrantState::Denied);
    }

    let first = at("2099-01-01T00:01:00Z");
    assert!(
        accounts
            .record_device_poll(&grant.hash, first, at("2099-01-01T00:00:55Z"))
            .await
            .unwrap()
    );
    assert!(
        !accounts
            .record_device_poll(
                &grant.hash,
                at("2099-01-01T00:01:02Z"),
                at("2099-01-01T00:00:57Z")
            )
            .await
            .unwrap(),
        "a poll within the interval of the last is too fast"
    );
    assert!(
        accounts
            .record_device_poll(
                &grant.hash,
                at("2099-01-01T00:01:06Z"),
                at("2099-01-01T00:01:01Z")
            )
            .await
            .unwrap()
    );
    assert_eq!(
        accounts
            .device_grant(&grant.hash)
            .await
            .unwrap()
            .unwrap()
            .last_polled_at,
        Some(at("2099-01-01T00:01:06Z"))
    );
}
