-- Keep "updatedAt" right for rows written outside Prisma: the pharmacy sync jobs write raw SQL.
CREATE OR REPLACE FUNCTION "set_updated_at"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW."updatedAt" = CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER "Patient_set_updatedAt"
    BEFORE UPDATE ON "Patient"
    FOR EACH ROW EXECUTE FUNCTION "set_updated_at"();

CREATE OR REPLACE TRIGGER "Prescription_set_updatedAt"
    BEFORE UPDATE ON "Prescription"
    FOR EACH ROW EXECUTE FUNCTION "set_updated_at"();

-- What the front desk sees: today's and later appointments with the patient's name.
CREATE OR REPLACE VIEW "UpcomingAppointment" AS
SELECT a."id", a."scheduledAt", a."status", a."clinicId", p."firstName", p."lastName"
FROM "Appointment" a
JOIN "Patient" p ON p."id" = a."patientId"
WHERE a."scheduledAt" >= date_trunc('day', CURRENT_TIMESTAMP);
