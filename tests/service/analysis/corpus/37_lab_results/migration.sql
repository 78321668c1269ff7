-- CreateEnum
CREATE TYPE "LabResultFlag" AS ENUM ('NORMAL', 'LOW', 'HIGH', 'CRITICAL');

-- CreateTable
CREATE TABLE "LabResult" (
    "id" TEXT NOT NULL,
    "patientId" TEXT NOT NULL,
    "loincCode" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "unit" TEXT,
    "flag" "LabResultFlag" NOT NULL DEFAULT 'NORMAL',
    "collectedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "LabResult_pkey" PRIMARY KEY ("id")
);

-- AlterTable
ALTER TABLE "Patient" ADD COLUMN     "lastLabCollectedAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "LabResult_patientId_collectedAt_idx" ON "LabResult"("patientId", "collectedAt");

-- AddForeignKey
ALTER TABLE "LabResult" ADD CONSTRAINT "LabResult_patientId_fkey" FOREIGN KEY ("patientId") REFERENCES "Patient"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ROLLBACK SQL (for reference):
-- DROP TABLE IF EXISTS "LabResult";
-- DROP TYPE IF EXISTS "LabResultFlag";
