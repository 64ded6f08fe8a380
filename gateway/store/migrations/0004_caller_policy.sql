-- Per-caller policy: the actions a credential or bearer token may perform.
-- NULL means every action of its project, otherwise a comma-separated list of action names
-- (see gateway/core/permissions.py). Existing rows keep NULL, so nothing changes for them.
ALTER TABLE credentials ADD COLUMN allowed_actions TEXT;
ALTER TABLE auth_tokens ADD COLUMN allowed_actions TEXT;
