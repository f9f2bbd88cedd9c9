-- fleetpki schema 020: the admin portal's operators and sessions (issue 9).
--
--   admin_operators       per tenant: a name and an argon2id hash of the
--                         password (libargon2's encoded form, parameters
--                         included), made by `fleetpki admin create`
--   admin_sessions        server-side sessions: any fleetpkid host serves
--                         them.  The browser's cookie holds a random token;
--                         the row only its HMAC-SHA256 under the pepper.
--                         An absolute expiry and an idle timeout; logout
--                         (and disabling the operator, a new password)
--                         revokes.  The CSRF token is derived from the
--                         cookie's token (HMAC under the pepper, another
--                         domain), so it is stored nowhere
--   admin_login_failures  failed logins per (tenant, name) as sent, known
--                         or not: the lockout that answers 429 without
--                         telling whether the operator exists

CREATE TABLE admin_operators (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
	password_hash	text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
	disabled	boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	password_at	timestamptz NOT NULL DEFAULT now(),
	last_login	timestamptz,
	UNIQUE (tenant_id, id),
	UNIQUE (tenant_id, name)
);

CREATE TABLE admin_sessions (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	operator_id	bigint NOT NULL,
	-- HMAC-SHA256 of the cookie's token under the pepper, hex
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	-- idle timeout: unused this long, the session is over
	idle_s		integer NOT NULL CHECK (idle_s > 0),
	revoked_at	timestamptz,
	remote_addr	text CHECK (length(remote_addr) <= 64),
	UNIQUE (tenant_id, id),
	FOREIGN KEY (tenant_id, operator_id)
	    REFERENCES admin_operators (tenant_id, id)
);
CREATE INDEX admin_sessions_operator ON admin_sessions (tenant_id, operator_id)
	WHERE revoked_at IS NULL;
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

CREATE TABLE admin_login_failures (
	login		text PRIMARY KEY CHECK (length(login) <= 160),
	failures	integer NOT NULL DEFAULT 0,
	window_start	timestamptz NOT NULL DEFAULT now(),
	locked_until	timestamptz
);

SELECT fleetpki_tenant_wall('admin_operators');
SELECT fleetpki_tenant_wall('admin_sessions');
-- No tenant (keyed by what a client sent): the app reaches it only
-- through the functions below.
ALTER TABLE admin_login_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_login_failures FORCE ROW LEVEL SECURITY;
CREATE POLICY fleetpki_owner ON admin_login_failures
	TO CURRENT_USER USING (true) WITH CHECK (true);

-- Operators are made, disabled and given passwords by the CLI (owner).
-- fleetpkid (the app, under its tenant) opens and closes sessions and
-- notes the last login.
REVOKE ALL ON admin_operators, admin_sessions, admin_login_failures
	FROM fleetpki_app;
GRANT SELECT ON admin_operators TO fleetpki_app;
GRANT UPDATE (last_login) ON admin_operators TO fleetpki_app;
GRANT SELECT, INSERT ON admin_sessions TO fleetpki_app;
GRANT UPDATE (revoked_at, last_used) ON admin_sessions TO fleetpki_app;

-- ---- before the tenant is known --------------------------------------
-- Login by tenant name and operator name: always exactly one row, so an
-- unknown tenant or operator costs the same round trip as a known one
-- (and fleetpkid then verifies against a dummy hash).  'locked': too
-- many failures for this (tenant, name) lately.
CREATE FUNCTION fleetpki_admin_login_lookup(p_tenant text, p_name text)
RETURNS TABLE (tenant_id bigint, tenant_name text, operator_id bigint,
	password_hash text, disabled boolean, locked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT t.id, t.name, o.id, o.password_hash, coalesce(o.disabled, true),
	       coalesce(f.locked_until > now(), false)
	FROM (SELECT 1) one
	LEFT JOIN (tenants t JOIN admin_operators o ON o.tenant_id = t.id)
	       ON t.name = p_tenant AND o.name = p_name
	LEFT JOIN admin_login_failures f ON f.login = p_tenant || '/' || p_name
$$;

-- A failed login: counted in a window of p_window seconds; at p_max
-- failures the login is locked for p_window seconds.  Returns whether it
-- is locked now.
CREATE FUNCTION fleetpki_admin_login_failed(p_login text, p_max integer,
	p_window integer)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	INSERT INTO admin_login_failures AS f (login, failures)
	SELECT p_login, 1 WHERE length(p_login) <= 160
	ON CONFLICT (login) DO UPDATE SET
		failures = CASE WHEN f.window_start < now() - make_interval(secs => p_window)
		           THEN 1 ELSE f.failures + 1 END,
		window_start = CASE WHEN f.window_start < now() - make_interval(secs => p_window)
		               THEN now() ELSE f.window_start END,
		locked_until = CASE WHEN f.window_start >= now() - make_interval(secs => p_window)
		                    AND f.failures + 1 >= p_max
		               THEN now() + make_interval(secs => p_window)
		               ELSE f.locked_until END
	RETURNING locked_until IS NOT NULL AND locked_until > now()
$$;

-- A successful login forgets the failures.
CREATE FUNCTION fleetpki_admin_login_succeeded(p_login text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	DELETE FROM admin_login_failures WHERE login = p_login
$$;

-- The session of a cookie (by its token's HMAC): live (not revoked, not
-- expired, used within its idle timeout) and of an operator still
-- enabled, or no row.  Using it counts: last_used moves on (at most
-- once in 15 s, so a page's burst of requests writes the row once).
CREATE FUNCTION fleetpki_admin_session(p_hash text)
RETURNS TABLE (tenant_id bigint, tenant_name text, session_id bigint,
	operator_id bigint, operator_name text, expires_at bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH s AS (
		SELECT s.id, s.tenant_id, s.operator_id, o.name, s.expires_at,
		       s.last_used < now() - interval '15 seconds' AS stale
		FROM admin_sessions s
		JOIN admin_operators o ON o.tenant_id = s.tenant_id
		     AND o.id = s.operator_id
		WHERE s.token_hash = p_hash AND s.revoked_at IS NULL
		  AND s.expires_at > now()
		  AND s.last_used > now() - make_interval(secs => s.idle_s)
		  AND NOT o.disabled
	), touch AS (
		UPDATE admin_sessions a SET last_used = now()
		FROM s WHERE a.id = s.id AND s.stale
	)
	SELECT s.tenant_id, t.name, s.id, s.operator_id, s.name,
	       floor(extract(epoch FROM s.expires_at))::bigint
	FROM s JOIN tenants t ON t.id = s.tenant_id
$$;

-- Sessions long over (the CLI's `admin list` runs it; nothing else
-- deletes).
CREATE FUNCTION fleetpki_admin_sessions_prune(p_older integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH d AS (DELETE FROM admin_sessions
	           WHERE expires_at < now() - make_interval(secs => p_older)
	              OR revoked_at < now() - make_interval(secs => p_older)
	           RETURNING 1)
	SELECT count(*) FROM d
$$;

REVOKE ALL ON FUNCTION fleetpki_admin_login_lookup(text, text),
	fleetpki_admin_login_failed(text, integer, integer),
	fleetpki_admin_login_succeeded(text), fleetpki_admin_session(text),
	fleetpki_admin_sessions_prune(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_admin_login_lookup(text, text),
	fleetpki_admin_login_failed(text, integer, integer),
	fleetpki_admin_login_succeeded(text), fleetpki_admin_session(text)
	TO fleetpki_app;
