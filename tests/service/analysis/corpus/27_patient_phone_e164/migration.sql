/*
  Warnings:

  - You are about to drop the column `phone` on the `Patient` table. All the data in the column will be lost.

*/
-- DropIndex
DROP INDEX "Patient_phone_idx";

-- AlterTable
ALTER TABLE "Patient" DROP COLUMN "phone",
ADD COLUMN     "phoneE164" VARCHAR(16);

-- CreateIndex
CREATE INDEX "Patient_phoneE164_idx" ON "Patient"("phoneE164");
