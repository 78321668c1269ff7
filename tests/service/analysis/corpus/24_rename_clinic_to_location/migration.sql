-- Clinics become locations: the same sites now include partner pharmacies.
-- Hand-edited: Prisma generated DROP TABLE "Clinic" and CREATE TABLE "Location", losing every row.

-- AlterTable
ALTER TABLE "Clinic" RENAME TO "Location";

-- AlterTable
ALTER TABLE "Location" RENAME CONSTRAINT "Clinic_pkey" TO "Location_pkey";

-- AlterTable
ALTER TABLE "Appointment" RENAME COLUMN "clinicId" TO "locationId";

-- RenameForeignKey
ALTER TABLE "Appointment" RENAME CONSTRAINT "Appointment_clinicId_fkey" TO "Appointment_locationId_fkey";

-- RenameIndex
ALTER INDEX "Appointment_clinicId_idx" RENAME TO "Appointment_locationId_idx";
