-- Every appointment has a length now. The scheduler assumed 30 minutes when it was empty, so
-- that is what the old rows get.
UPDATE "Appointment" SET "durationMinutes" = 30 WHERE "durationMinutes" IS NULL;

-- AlterTable
ALTER TABLE "Appointment" ALTER COLUMN "durationMinutes" SET NOT NULL,
ALTER COLUMN "durationMinutes" SET DEFAULT 30;
