-- Allergies recorded at intake, checked by the pharmacist before dispensing.
-- Each step checks the catalog first so the migration can be re-run after a partial failure.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'Patient' AND column_name = 'allergies'
    ) THEN
        ALTER TABLE "Patient" ADD COLUMN "allergies" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
    END IF;

    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint WHERE conname = 'Patient_allergies_limit'
    ) THEN
        ALTER TABLE "Patient" ADD CONSTRAINT "Patient_allergies_limit" CHECK (cardinality("allergies") <= 50);
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS "Patient_allergies_idx" ON "Patient" USING GIN ("allergies");
