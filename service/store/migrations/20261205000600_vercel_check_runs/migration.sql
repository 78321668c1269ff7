-- Vercel Checks v2 (service.integrations.vercel_checks_v2): the check deploy-gate defines once per
-- Vercel project, and the check runs it owes a status, one or more per deployment.

-- The check of each project, found or created on first use; the definition it was last given, so a
-- changed configuration updates it instead of making another.
CREATE TABLE IF NOT EXISTS "vercel_check" (
    "project_id"  TEXT PRIMARY KEY,
    "check_id"    TEXT NOT NULL,
    "definition"  JSONB NOT NULL,
    "updated_at"  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A run of that check on a deployment, and the job whose verdict it carries. A run with no job is
-- either waiting for deployment.created (announced first) or, with skip_reason, one no job can
-- check (no migrations stored, no target): it is concluded `skipped` with that reason.
CREATE TABLE IF NOT EXISTS "vercel_check_run" (
    "run_id"          TEXT PRIMARY KEY,
    "deployment_id"   TEXT NOT NULL,
    "check_id"        TEXT NOT NULL,
    -- A job's runs go with it when retention deletes it.
    "job_id"          UUID REFERENCES "job" ("id") ON DELETE CASCADE,
    "skip_reason"     TEXT,
    -- announced: by deployment.checkrun.start; found: listed on the deployment; created: by deploy-gate.
    "origin"          TEXT NOT NULL CHECK ("origin" IN ('announced', 'found', 'created')),
    -- open: owed a status; done: concluded; canceled: Vercel canceled it; abandoned: Vercel refused it.
    "status"          TEXT NOT NULL DEFAULT 'open' CHECK ("status" IN ('open', 'done', 'canceled', 'abandoned')),
    -- What Vercel was last told: running, completed.
    "reported_state"  TEXT,
    "conclusion"      TEXT,
    -- Reporting a run with no job: failures and when it is due again (a job's runs use its report's).
    "attempts"        INTEGER NOT NULL DEFAULT 0,
    "last_error"      TEXT,
    "retry_at"        TIMESTAMPTZ,
    "created_at"      TIMESTAMPTZ NOT NULL DEFAULT now(),
    "updated_at"      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS "vercel_check_run_deployment_idx" ON "vercel_check_run" ("deployment_id");
CREATE INDEX IF NOT EXISTS "vercel_check_run_job_idx" ON "vercel_check_run" ("job_id") WHERE "job_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "vercel_check_run_jobless_idx" ON "vercel_check_run" ("created_at") WHERE "status" = 'open' AND "job_id" IS NULL;

-- ROLLBACK SQL:
-- DROP TABLE IF EXISTS "vercel_check_run";
-- DROP TABLE IF EXISTS "vercel_check";
