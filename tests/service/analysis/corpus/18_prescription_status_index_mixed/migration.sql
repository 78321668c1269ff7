-- Pharmacists work a queue of active prescriptions; add the note they leave and index the queue
-- without blocking prescription writes.

-- AlterTable
ALTER TABLE "Prescription" ADD COLUMN     "pharmacistNote" TEXT;

-- CreateIndex
CREATE INDEX CONCURRENTLY "Prescription_status_issuedAt_idx" ON "Prescription"("status", "issuedAt");
