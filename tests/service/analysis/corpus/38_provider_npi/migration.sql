-- Providers are identified by NPI from now on; the free-text name stays, for display only.

-- AlterTable
ALTER TABLE "Appointment" RENAME COLUMN "providerName" TO "providerDisplayName";

-- AlterTable
ALTER TABLE "Appointment" ADD COLUMN     "providerNpi" VARCHAR(10);

-- CreateIndex
CREATE INDEX "Appointment_providerNpi_idx" ON "Appointment"("providerNpi");

-- ROLLBACK SQL (for reference):
-- DROP INDEX IF EXISTS "Appointment_providerNpi_idx";
-- ALTER TABLE "Appointment" DROP COLUMN IF EXISTS "providerNpi";
