-- Retention (service.retention): old finished jobs with their journals, old webhook delivery ids and
-- bundles no kept job uses are deleted in small batches by a beat task.

-- The journal stays append-only for everything but retention, which sets deploy_gate.retention
-- for its own transaction only (SET LOCAL); an UPDATE is refused whatever the setting.
CREATE OR REPLACE FUNCTION "job_event_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('deploy_gate.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'job_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Finished jobs, oldest end first: each batch reads the next few hundred without a scan of the table.
CREATE INDEX IF NOT EXISTS "job_finished_idx" ON "job" ("finished_at") WHERE "state" IN ('succeeded', 'failed', 'canceled');
-- Whether any job still uses a bundle (and the foreign key's check when a bundle is deleted).
CREATE INDEX IF NOT EXISTS "job_bundle_idx" ON "job" ("bundle_digest") WHERE "bundle_digest" IS NOT NULL;
-- Delivery ids, oldest first.
CREATE INDEX IF NOT EXISTS "webhook_delivery_received_idx" ON "webhook_delivery" ("received_at");
-- The deliveries that started a job (the foreign key's check when a job is deleted).
CREATE INDEX IF NOT EXISTS "webhook_delivery_job_idx" ON "webhook_delivery" ("job_id") WHERE "job_id" IS NOT NULL;

-- ROLLBACK SQL:
-- DROP INDEX IF EXISTS "webhook_delivery_job_idx";
-- DROP INDEX IF EXISTS "webhook_delivery_received_idx";
-- DROP INDEX IF EXISTS "job_bundle_idx";
-- DROP INDEX IF EXISTS "job_finished_idx";
-- CREATE OR REPLACE FUNCTION "job_event_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
-- BEGIN
--     RAISE EXCEPTION 'job_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
-- END
-- $$;
