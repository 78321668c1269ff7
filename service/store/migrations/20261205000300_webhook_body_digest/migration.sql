-- A GitHub delivery replayed with a fresh X-GitHub-Delivery (a header the signature does not cover)
-- is recognised by what the signature does cover: the digest of its body, with its event.
ALTER TABLE "webhook_delivery" ADD COLUMN IF NOT EXISTS "body_digest" TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS "webhook_delivery_body_digest_key" ON "webhook_delivery" ("source", "body_digest") WHERE "body_digest" IS NOT NULL;

-- ROLLBACK SQL:
-- DROP INDEX IF EXISTS "webhook_delivery_body_digest_key";
-- ALTER TABLE "webhook_delivery" DROP COLUMN IF EXISTS "body_digest";
