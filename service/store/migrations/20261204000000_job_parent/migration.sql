-- A job's page lists the jobs it started (a deploy's recover job): found by their parent.
CREATE INDEX IF NOT EXISTS "job_parent_idx" ON "job" ("parent_id") WHERE "parent_id" IS NOT NULL;
