-- A person's approval or rejection of the plan a job waits with is a journal event of its own.
ALTER TABLE "job_event" DROP CONSTRAINT IF EXISTS "job_event_kind_check";
ALTER TABLE "job_event" ADD CONSTRAINT "job_event_kind_check"
    CHECK ("kind" IN ('transition', 'step_started', 'step_finished', 'step_failed', 'note', 'approval'));

-- ROLLBACK SQL:
-- ALTER TABLE "job_event" DROP CONSTRAINT IF EXISTS "job_event_kind_check";
-- ALTER TABLE "job_event" ADD CONSTRAINT "job_event_kind_check" CHECK ("kind" IN ('transition', 'step_started', 'step_finished', 'step_failed', 'note'));
