-- Refills are tracked per prescription so the pharmacy can refuse one past the allowed count.

-- AlterTable
ALTER TABLE "Prescription" ADD COLUMN     "lastFilledAt" TIMESTAMP(3),
ADD COLUMN     "refillsUsed" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "Prescription_lastFilledAt_idx" ON "Prescription"("lastFilledAt");

-- ROLLBACK SQL (for reference):
-- DROP INDEX IF EXISTS "Prescription_lastFilledAt_idx";
-- ALTER TABLE "Prescription" DROP COLUMN IF EXISTS "lastFilledAt",
--     DROP COLUM IF EXISTS "refillsUsed";
