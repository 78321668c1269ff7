-- Orders for prescription products point at the prescription they fill.
-- Order is the hottest table we have: give up quickly rather than queue every checkout behind
-- this ALTER, and validate the foreign key separately so the scan holds a weaker lock.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- AlterTable
ALTER TABLE "Order" ADD COLUMN "prescriptionId" TEXT;

-- AddForeignKey
ALTER TABLE "Order" ADD CONSTRAINT "Order_prescriptionId_fkey" FOREIGN KEY ("prescriptionId") REFERENCES "Prescription"("id") ON DELETE SET NULL ON UPDATE CASCADE NOT VALID;

ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_prescriptionId_fkey";
