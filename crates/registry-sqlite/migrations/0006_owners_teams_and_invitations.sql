-- Rosters: a plugin's owners (`plugin:{slug}`) and a team's members
-- (`team:{principal}`). Each is changed whole, by compare-and-set on its
-- revision, so "never the last owner" holds however requests race.
CREATE TABLE rosters (
    roster TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);
CREATE TABLE roster_entries (
    roster TEXT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (roster, principal)
);
-- "My plugins" and "my teams".
CREATE INDEX roster_entries_by_principal ON roster_entries (principal, roster);
-- Every plugin published before owners existed is owned by its first publisher.
INSERT INTO rosters (roster, revision) SELECT 'plugin:' || slug, 1 FROM plugins;
INSERT INTO roster_entries (roster, principal, role, since)
    SELECT 'plugin:' || slug, owner, 'owner', created_at FROM plugins;
-- Invitations to own a plugin, one per plugin and invitee.
CREATE TABLE owner_invitations (
    slug TEXT NOT NULL,
    invitee TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    transfer INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (slug, invitee)
);
CREATE INDEX owner_invitations_by_invitee ON owner_invitations (invitee, slug);
