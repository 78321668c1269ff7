-- Soft delete for clinical records: retention rules say rows are hidden, never removed.
DO $$
DECLARE
    clinical_table TEXT;
BEGIN
    FOREACH clinical_table IN ARRAY ARRAY['Patient', 'Appointment', 'Prescription'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN "deletedAt" TIMESTAMP(3)', clinical_table);
    END LOOP;
END $$;
