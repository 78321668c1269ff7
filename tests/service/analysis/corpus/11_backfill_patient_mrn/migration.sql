-- Medical record numbers for every patient, required by the lab integration.

ALTER TABLE "Patient" ADD COLUMN IF NOT EXISTS "mrn" TEXT;

CREATE SEQUENCE IF NOT EXISTS "patient_mrn_seq" START WITH 100000;

-- Only patients without an MRN, so a re-run does not renumber anyone.
UPDATE "Patient"
SET "mrn" = 'MRN-' || lpad(nextval('patient_mrn_seq')::text, 8, '0')
WHERE "mrn" IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS "Patient_mrn_key" ON "Patient"("mrn");

-- DOWN
-- DROP INDEX IF EXISTS "Patient_mrn_key";
-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "mrn";
-- DROP SEQUENCE IF EXISTS "patient_mrn_seq";
