-- A job may be a `failover` (service.jobs.failover): the target's read replica promoted, or its
-- Aurora cluster failed over to a reader.
ALTER TABLE "job" DROP CONSTRAINT IF EXISTS "job_kind_check";
ALTER TABLE "job" ADD CONSTRAINT "job_kind_check" CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore', 'failover'));

-- ROLLBACK SQL:
-- ALTER TABLE "job" DROP CONSTRAINT IF EXISTS "job_kind_check";
-- ALTER TABLE "job" ADD CONSTRAINT "job_kind_check" CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore'));
