-- AlterTable
ALTER TABLE "Patient" ADD COLUMN     "dateOfBirth" TIMESTAMP(3),
ADD COLUMN     "phone" TEXT;

-- CreateIndex
CREATE INDEX "Patient_phone_idx" ON "Patient"("phone");

-- ROLLBACK SQL (for reference):
-- DROP INDEX IF EXISTS "Patient_phone_idx";
-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "phone";
-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "dateOfBirth";
