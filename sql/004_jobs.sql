-- fleetpki schema 004: the job queue fleetpki-worker runs (src/worker).
--
-- A job is one row.  Workers on any number of hosts claim due rows with
-- FOR UPDATE SKIP LOCKED, so two never take the same one and none waits
-- for another; a claim is a lease (lease_until): a worker that dies
-- loses its jobs when the lease runs out, and the next claim takes them
-- again.  No leader: the database orders everything.
--
--   pending  waiting for run_at (first run, or the back-off after a
--            failure)
--   running  claimed by locked_by until lease_until
--   done     finished (kept a day for `fleetpki job list`, then pruned)
--   failed   gave up after max_attempts; `fleetpki job retry` makes it
--            pending again
--
-- A kind runs on a schedule or when something enqueues it; either way
-- there is at most one pending or running row per (kind, key), so the
-- schedulers of several workers cannot multiply a job, and enqueueing
-- what is already queued is a no-op.

CREATE TABLE jobs (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind		text NOT NULL CHECK (kind ~ '^[a-z0-9_.]{1,64}$'),
	-- What the job is about within its kind ('' for a kind's one job).
	key		text NOT NULL DEFAULT '' CHECK (length(key) <= 200),
	-- The tenant a job works for; NULL for the system's own jobs (the
	-- CRL refresh covers every tenant).
	tenant_id	bigint REFERENCES tenants (id) ON DELETE CASCADE,
	args		text NOT NULL DEFAULT '{}',
	state		text NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'running', 'done', 'failed')),
	attempts	integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	max_attempts	integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
	run_at		timestamptz NOT NULL DEFAULT now(),
	lease_until	timestamptz,
	locked_by	text,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	CHECK ((state = 'running') = (lease_until IS NOT NULL))
);

-- One queued row per (kind, key): what makes enqueueing idempotent.
CREATE UNIQUE INDEX jobs_one_queued ON jobs (kind, key)
	WHERE state IN ('pending', 'running');
-- The claim's scan: due pending rows, and running rows whose lease ran
-- out.
CREATE INDEX jobs_pending ON jobs (run_at) WHERE state = 'pending';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
-- The scheduler's "when did this kind last finish".
CREATE INDEX jobs_done ON jobs (kind, finished_at) WHERE state = 'done';

-- Wake the workers (LISTEN fleetpki_jobs) whenever a row becomes
-- pending: enqueued, retried, or put back after a failure.  The payload
-- is the kind, so a worker can ignore kinds it does not run.  NOTIFY is
-- delivered at commit, never for a rolled-back enqueue.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('fleetpki_jobs', NEW.kind);
	RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state, run_at ON jobs
	FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION jobs_notify();

-- For an operator in psql: what is queued, failing or stuck.
CREATE VIEW jobs_overview AS
	SELECT kind, state, count(*) AS jobs, min(run_at) AS next_run_at,
	       max(attempts) AS max_attempts_used,
	       count(*) FILTER (WHERE state = 'running' AND lease_until < now())
	           AS leases_expired
	FROM jobs GROUP BY kind, state ORDER BY kind, state;
