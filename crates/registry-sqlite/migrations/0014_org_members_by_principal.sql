-- The account page lists the orgs a person belongs to: find memberships by
-- principal without scanning every org's.
CREATE INDEX IF NOT EXISTS org_members_by_principal ON org_members (principal, org);
