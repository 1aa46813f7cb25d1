-- Why a key was revoked, as JSON text: {"kind": "leaked", "url": …, "source": …}. NULL for a key
-- that is not revoked, or was revoked without a reason. Written in the same statement as
-- revoked_at, so the change triggers of migration 2 announce it with the revocation.
ALTER TABLE keygate_keys ADD COLUMN revocation TEXT;
