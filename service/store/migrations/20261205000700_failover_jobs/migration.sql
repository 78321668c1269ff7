-- A job may be a `failover` (service.jobs.failover): the target's read replica promoted, or its
-- Aurora cluster failed over to a reader.
-- NOT VALID: the old constraint already held every row to one of the kinds the new one allows, so
-- scanning the table under its ACCESS EXCLUSIVE lock would find nothing; new rows are checked.
ALTER TABLE "job" DROP CONSTRAINT IF EXISTS "job_kind_check";
ALTER TABLE "job" ADD CONSTRAINT "job_kind_check" CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore', 'failover')) NOT VALID;

-- ROLLBACK SQL:
-- ALTER TABLE "job" DROP CONSTRAINT IF EXISTS "job_kind_check";
-- ALTER TABLE "job" ADD CONSTRAINT "job_kind_check" CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore'));
