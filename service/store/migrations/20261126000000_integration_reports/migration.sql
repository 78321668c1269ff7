-- What a webhook delivery was about: its event type and the deployment (or callback) it concerns,
-- so later deliveries find the jobs a deployment started.
ALTER TABLE "webhook_delivery" ADD COLUMN IF NOT EXISTS "event" TEXT;
ALTER TABLE "webhook_delivery" ADD COLUMN IF NOT EXISTS "subject" TEXT;
CREATE INDEX IF NOT EXISTS "webhook_delivery_subject_idx" ON "webhook_delivery" ("source", "subject") WHERE "subject" IS NOT NULL;

-- A job's verdict owed to a platform: a Vercel deployment check (kept running while the job runs,
-- completed when it ends) or a GitHub deployment protection rule's callback. Open until reported.
CREATE TABLE IF NOT EXISTS "integration_report" (
    "job_id"          UUID NOT NULL REFERENCES "job" ("id"),
    "source"          TEXT NOT NULL CHECK ("source" IN ('vercel', 'github')),
    -- Vercel: the deployment id; GitHub: the deployment_callback_url.
    "subject"         TEXT NOT NULL,
    -- Vercel: the check id, once created.
    "remote_id"       TEXT,
    "details"         JSONB NOT NULL DEFAULT '{}',
    "status"          TEXT NOT NULL DEFAULT 'open' CHECK ("status" IN ('open', 'done', 'abandoned')),
    -- What the platform was last told: registered, running, completed (Vercel); approved, rejected (GitHub).
    "reported_state"  TEXT,
    "reported_at"     TIMESTAMPTZ,
    "attempts"        INTEGER NOT NULL DEFAULT 0,
    "last_error"      TEXT,
    "retry_at"        TIMESTAMPTZ,
    "created_at"      TIMESTAMPTZ NOT NULL DEFAULT now(),
    "updated_at"      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY ("job_id", "source")
);

CREATE INDEX IF NOT EXISTS "integration_report_open_idx" ON "integration_report" ("created_at") WHERE "status" = 'open';
CREATE INDEX IF NOT EXISTS "integration_report_remote_idx" ON "integration_report" ("source", "remote_id") WHERE "remote_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "integration_report_subject_idx" ON "integration_report" ("source", "subject");

-- ROLLBACK SQL:
-- DROP TABLE IF EXISTS "integration_report";
-- DROP INDEX IF EXISTS "webhook_delivery_subject_idx";
-- ALTER TABLE "webhook_delivery" DROP COLUMN IF EXISTS "subject";
-- ALTER TABLE "webhook_delivery" DROP COLUMN IF EXISTS "event";
