//! The ownership port's contract: a roster changes only at the revision it was
//! read at (one of racing writers wins), the index of who is on which roster
//! follows every change, and an invitation is stored once and removed once.
//!
//! Invitations lapse in 2099: a store with a time-to-live deletes lapsed ones
//! on its own.

use std::sync::Arc;

use super::{at, conflict, exactly_one_wins, race, slug};
use crate::auth::PrincipalId;
use crate::ownership::{OwnerInvitation, Role, RosterEntry, RosterKey};
use crate::store::{Conflict, OwnershipStore};

fn entry(principal: &PrincipalId, role: Role) -> RosterEntry {
    RosterEntry {
        principal: principal.clone(),
        role,
        since: at("2026-03-01T10:00:00Z"),
    }
}

/// Runs every ownership-store check.
pub async fn ownership_store_contract(store: Arc<dyn OwnershipStore>, prefix: &str) {
    let plugin = RosterKey::PluginOwners(slug(&format!("{prefix}-owned")));
    let ada = PrincipalId::from_stored(format!("prn_{prefix}_ada"));
    let bob = PrincipalId::from_stored(format!("prn_{prefix}_bob"));
    let team_id = PrincipalId::from_stored(format!("prn_{prefix}_team"));
    let team = RosterKey::TeamMembers(team_id.clone());

    let never = store.roster(&plugin).await.unwrap();
    assert!(
        never.entries.is_empty() && never.revision == 0,
        "a roster never written is empty at revision 0"
    );
    assert!(store.rosters_of(&ada).await.unwrap().is_empty());

    store
        .replace_roster(&plugin, 0, &[entry(&ada, Role::Owner)])
        .await
        .unwrap();
    assert_eq!(
        conflict(
            store
                .replace_roster(&plugin, 0, &[entry(&bob, Role::Owner)])
                .await
        ),
        Conflict::RevisionChanged,
        "creating a roster that exists is refused"
    );
    let first = store.roster(&plugin).await.unwrap();
    assert_eq!(first.entries, vec![entry(&ada, Role::Owner)]);
    assert_eq!(first.revision, 1);

    let both = vec![entry(&ada, Role::Owner), entry(&bob, Role::Owner)];
    store.replace_roster(&plugin, 1, &both).await.unwrap();
    assert_eq!(
        conflict(store.replace_roster(&plugin, 1, &[]).await),
        Conflict::RevisionChanged,
        "a change computed from an old revision is refused"
    );
    let second = store.roster(&plugin).await.unwrap();
    assert_eq!(
        second.entries, both,
        "nothing was written by the stale change"
    );
    assert_eq!(second.revision, 2);

    store
        .replace_roster(
            &team,
            0,
            &[entry(&ada, Role::Maintainer), entry(&bob, Role::Member)],
        )
        .await
        .unwrap();
    let of_bob = store.rosters_of(&bob).await.unwrap();
    assert_eq!(
        of_bob,
        vec![
            (plugin.clone(), entry(&bob, Role::Owner)),
            (team.clone(), entry(&bob, Role::Member)),
        ],
        "the index lists every roster a principal is on, with its entry"
    );

    // Racers each try to leave one different owner behind: one wins.
    exactly_one_wins(
        |i| {
            let store = Arc::clone(&store);
            let plugin = plugin.clone();
            let racer = PrincipalId::from_stored(format!("prn_{prefix}_racer{i}"));
            async move {
                store
                    .replace_roster(&plugin, 2, &[entry(&racer, Role::Owner)])
                    .await
            }
        },
        Conflict::RevisionChanged,
        "of racing changes to one roster revision, exactly one lands",
    )
    .await;
    let raced = store.roster(&plugin).await.unwrap();
    assert_eq!(raced.revision, 3);
    assert_eq!(raced.entries.len(), 1);
    let winner = raced.entries[0].principal.clone();
    assert_eq!(
        store.rosters_of(&winner).await.unwrap(),
        vec![(plugin.clone(), entry(&winner, Role::Owner))],
        "the winner's entry is indexed"
    );
    assert_eq!(
        store.rosters_of(&bob).await.unwrap(),
        vec![(team.clone(), entry(&bob, Role::Member))],
        "an entry removed from a roster leaves the index"
    );
    for i in 0..super::RACERS {
        let racer = PrincipalId::from_stored(format!("prn_{prefix}_racer{i}"));
        if racer != winner {
            assert!(
                store.rosters_of(&racer).await.unwrap().is_empty(),
                "a losing change indexes nothing"
            );
        }
    }

    store.replace_roster(&plugin, 3, &[]).await.unwrap();
    let emptied = store.roster(&plugin).await.unwrap();
    assert!(emptied.entries.is_empty() && emptied.revision == 4);
    assert!(
        store.rosters_of(&winner).await.unwrap().is_empty(),
        "an emptied roster indexes nobody"
    );

    invitations(store, prefix, &ada, &bob).await;
}

async fn invitations(
    store: Arc<dyn OwnershipStore>,
    prefix: &str,
    ada: &PrincipalId,
    bob: &PrincipalId,
) {
    let (first, second) = (
        slug(&format!("{prefix}-invited-a")),
        slug(&format!("{prefix}-invited-b")),
    );
    let invite =
        |slug: &crate::slug::Slug, invitee: &PrincipalId, transfer: bool| OwnerInvitation {
            slug: slug.clone(),
            invitee: invitee.clone(),
            invited_by: ada.clone(),
            transfer,
            created_at: at("2026-03-01T10:00:00Z"),
            expires_at: at("2099-03-31T10:00:00Z"),
        };
    let to_bob = invite(&first, bob, true);
    store.insert_invitation(&to_bob).await.unwrap();
    assert_eq!(
        conflict(store.insert_invitation(&invite(&first, bob, false)).await),
        Conflict::AlreadyExists,
        "one invitation per principal and plugin"
    );
    let carol = PrincipalId::from_stored(format!("prn_{prefix}_carol"));
    store
        .insert_invitation(&invite(&first, &carol, false))
        .await
        .unwrap();
    store
        .insert_invitation(&invite(&second, bob, false))
        .await
        .unwrap();

    assert_eq!(
        store.invitation(&first, bob).await.unwrap(),
        Some(to_bob.clone())
    );
    assert!(store.invitation(&second, &carol).await.unwrap().is_none());
    let of_plugin: Vec<PrincipalId> = store
        .invitations_of_plugin(&first)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.invitee)
        .collect();
    let mut expected = vec![bob.clone(), carol.clone()];
    expected.sort();
    assert_eq!(of_plugin, expected, "a plugin's invitations, by invitee");
    let for_bob: Vec<_> = store
        .invitations_for(bob)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.slug)
        .collect();
    assert_eq!(for_bob, vec![first.clone(), second.clone()]);

    let removed = race(|_| {
        let store = Arc::clone(&store);
        let (slug, bob) = (first.clone(), bob.clone());
        async move { store.delete_invitation(&slug, &bob).await.unwrap() }
    })
    .await;
    assert_eq!(
        removed.iter().filter(|r| **r).count(),
        1,
        "an invitation is removed once, however many try"
    );
    assert!(store.invitation(&first, bob).await.unwrap().is_none());
    assert_eq!(
        store
            .invitations_for(bob)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.slug)
            .collect::<Vec<_>>(),
        vec![second]
    );
    store
        .insert_invitation(&to_bob)
        .await
        .expect("a removed invitation can be made again");
}
