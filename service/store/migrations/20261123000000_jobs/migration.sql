-- Migration bundles, content-addressed: the digest covers every name and checksum in order.
CREATE TABLE "bundle" (
    "digest"         TEXT PRIMARY KEY,
    "migrations"     JSONB NOT NULL,
    "lock_provider"  TEXT,
    "size_bytes"     INTEGER NOT NULL,
    "created_at"     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE "job" (
    "id"               UUID PRIMARY KEY,
    "kind"             TEXT NOT NULL CHECK ("kind" IN ('check', 'deploy', 'recover', 'rollback', 'restore')),
    "target"           TEXT NOT NULL,
    "state"            TEXT NOT NULL CHECK ("state" IN ('queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'canceled')),
    "verdict"          TEXT CHECK ("verdict" IN ('proceed', 'blocked')),
    "reasons"          JSONB NOT NULL DEFAULT '[]',
    "facts"            JSONB NOT NULL DEFAULT '{}',
    "params"           JSONB NOT NULL DEFAULT '{}',
    "bundle_digest"    TEXT REFERENCES "bundle" ("digest"),
    "parent_id"        UUID REFERENCES "job" ("id"),
    "requested_by"     TEXT NOT NULL,
    "idempotency_key"  TEXT,
    "attempts"         INTEGER NOT NULL DEFAULT 0,
    "created_at"       TIMESTAMPTZ NOT NULL DEFAULT now(),
    "updated_at"       TIMESTAMPTZ NOT NULL DEFAULT now(),
    "started_at"       TIMESTAMPTZ,
    "finished_at"      TIMESTAMPTZ,
    CONSTRAINT "job_idempotency_key" UNIQUE ("requested_by", "idempotency_key")
);

CREATE INDEX "job_target_created_idx" ON "job" ("target", "created_at" DESC);
CREATE INDEX "job_active_idx" ON "job" ("state", "updated_at") WHERE "state" IN ('queued', 'running', 'waiting_approval');

-- The journal: one row per transition and per step boundary, never changed afterwards.
CREATE TABLE "job_event" (
    "id"          BIGSERIAL PRIMARY KEY,
    "job_id"      UUID NOT NULL REFERENCES "job" ("id"),
    "at"          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    "kind"        TEXT NOT NULL CHECK ("kind" IN ('transition', 'step_started', 'step_finished', 'step_failed', 'note')),
    "step"        TEXT,
    "from_state"  TEXT,
    "to_state"    TEXT,
    "data"        JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX "job_event_job_idx" ON "job_event" ("job_id", "id");

CREATE FUNCTION "job_event_is_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER "job_event_append_only" BEFORE UPDATE OR DELETE ON "job_event"
    FOR EACH ROW EXECUTE FUNCTION "job_event_is_append_only"();

-- Webhook deliveries already seen, so a redelivery starts nothing twice.
CREATE TABLE "webhook_delivery" (
    "source"       TEXT NOT NULL,
    "delivery_id"  TEXT NOT NULL,
    "job_id"       UUID REFERENCES "job" ("id"),
    "received_at"  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY ("source", "delivery_id")
);

-- ROLLBACK SQL (for reference):
-- DROP TABLE IF EXISTS "webhook_delivery";
-- DROP TRIGGER IF EXISTS "job_event_append_only" ON "job_event";
-- DROP FUNCTION IF EXISTS "job_event_is_append_only"();
-- DROP TABLE IF EXISTS "job_event";
-- DROP TABLE IF EXISTS "job";
-- DROP TABLE IF EXISTS "bundle";
