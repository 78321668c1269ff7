-- Each worker process that runs jobs records a heartbeat here; a row whose heartbeat is old (or no
-- row at all) is a dead worker. The times are the store's clock, so machines' clocks never matter.
CREATE TABLE IF NOT EXISTS "worker" (
    "id" text PRIMARY KEY,
    "hostname" text NOT NULL,
    "pid" integer NOT NULL,
    "started_at" timestamptz NOT NULL DEFAULT now(),
    "heartbeat_at" timestamptz NOT NULL DEFAULT now()
);

-- The worker process running a job's task right now (NULL between its runs: a deferral, a retry,
-- a wait for approval). The reconciler resumes a running job whose worker died.
ALTER TABLE "job" ADD COLUMN IF NOT EXISTS "worker_id" text;
CREATE INDEX IF NOT EXISTS "job_worker_idx" ON "job" ("worker_id") WHERE "worker_id" IS NOT NULL;


-- ROLLBACK SQL:
-- DROP INDEX IF EXISTS "job_worker_idx";
-- ALTER TABLE "job" DROP COLUMN IF EXISTS "worker_id";
-- DROP TABLE IF EXISTS "worker";
