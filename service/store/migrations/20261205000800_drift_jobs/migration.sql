-- A `drift` job (service.jobs.drift): beat's scheduled comparison of a target's schema with the
-- shadow's replay of its applied migrations.
-- NOT VALID: the old constraint already held every row to one of the kinds the new one allows.
ALTER TABLE "job" DROP CONSTRAINT IF EXISTS "job_kind_check";
ALTER TABLE "job" ADD CONSTRAINT "job_kind_check"
    CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore', 'failover', 'drift')) NOT VALID;

-- ROLLBACK SQL (drift jobs must be deleted first):
-- ALTER TABLE "job" DROP CONSTRAINT IF EXISTS "job_kind_check";
-- ALTER TABLE "job" ADD CONSTRAINT "job_kind_check" CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore', 'failover'));
