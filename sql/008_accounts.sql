-- fleetpki schema 008: the security-services dialect's accounts.
--
-- API keys are per tenant: `fleetpki apikey create` makes one and prints
-- its secret once; only its HMAC-SHA256 under the server's pepper is
-- kept.  POST /authenticate trades key and secret for a short-lived
-- AuthToken (an ES256 JWT of its own audience) and an opaque RefreshToken;
-- POST /refreshauthtoken trades a RefreshToken for a new AuthToken and a
-- new RefreshToken (rotation).  RefreshTokens are kept hashed too, in
-- families: every token rotated from one authentication shares its family
-- and its expiry (3 days after the authentication).  A rotated token used
-- again revokes its whole family: whoever holds a copy gets nothing.
CREATE TABLE api_keys (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	-- a random UUID: the only thing /authenticate is given to find it by
	key		text NOT NULL UNIQUE
			CHECK (key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'),
	secret_hash	text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	revoked_at	timestamptz,
	UNIQUE (tenant_id, id)
);

CREATE TABLE refresh_tokens (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	api_key_id	bigint NOT NULL,
	family		text NOT NULL CHECK (family ~ '^[0-9a-f]{32}$'),
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	-- rotated: a newer token of the family replaced it
	used_at		timestamptz,
	-- its family was revoked (reuse of a rotated token, key revoked)
	revoked_at	timestamptz,
	FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

SELECT fleetpki_tenant_wall('api_keys');
SELECT fleetpki_tenant_wall('refresh_tokens');

-- What the app does with them: look keys up, never change one but to
-- revoke (the CLI does, as the owner); tokens are added, rotated (used_at)
-- and revoked, never deleted but by pruning.
REVOKE ALL ON api_keys, refresh_tokens FROM fleetpki_app;
GRANT SELECT ON api_keys TO fleetpki_app;
GRANT SELECT, INSERT ON refresh_tokens TO fleetpki_app;
GRANT UPDATE (used_at, revoked_at) ON refresh_tokens TO fleetpki_app;

-- The one cross-tenant lookup: /authenticate and /refreshauthtoken are
-- given an API key and nothing else.  It answers the key's tenant only;
-- the caller sets that tenant and reads the key as usual.
CREATE FUNCTION fleetpki_apikey_tenant(p_key text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT tenant_id FROM api_keys WHERE key = p_key
$$;
REVOKE ALL ON FUNCTION fleetpki_apikey_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_apikey_tenant(text) TO fleetpki_app;
