/*
  Warnings:

  - You are about to alter the column `notes` on the `Appointment` table. The data in that column could be lost. The data in that column will be cast from `Text` to `VarChar(2000)`.

*/
-- AlterTable
ALTER TABLE "Appointment" ALTER COLUMN "notes" SET DATA TYPE VARCHAR(2000);

-- AlterTable
ALTER TABLE "Order" ALTER COLUMN "totalCents" SET DATA TYPE BIGINT;
