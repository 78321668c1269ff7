-- When a job's next task message is due: set when a task defers the job (a wait, a retry), when it
-- goes to running (its first run, an approval), and when the reconciler sends it again; NULL
-- while no message is due (a deploy waiting for its recover job). A running job that no worker holds
-- and whose message is overdue lost it (a broker restarted empty): the reconciler sends it again.
-- A message carries the value it was sent for, so a late duplicate of a message sent again is dropped.
ALTER TABLE "job" ADD COLUMN IF NOT EXISTS "next_run_at" timestamptz;

-- Running jobs no worker holds were deferred before this column existed: their message is due by now.
UPDATE "job" SET "next_run_at" = now() WHERE "state" = 'running' AND "worker_id" IS NULL AND "next_run_at" IS NULL;

-- ROLLBACK SQL:
-- ALTER TABLE "job" DROP COLUMN IF EXISTS "next_run_at";
