-- The medication catalogue, seeded with the formulary the pharmacy launches with.

CREATE TABLE IF NOT EXISTS "Medication" (
    "id" TEXT NOT NULL,
    "ndc" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "genericName" TEXT,
    "strength" TEXT NOT NULL,
    "form" TEXT NOT NULL,

    CONSTRAINT "Medication_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "Medication_ndc_key" ON "Medication"("ndc");

INSERT INTO "Medication" ("id", "ndc", "name", "genericName", "strength", "form") VALUES
    ('med_semaglutide_025', '0169-4525-14', 'Semaglutide', 'semaglutide', '0.25 mg/0.5 mL', 'injection'),
    ('med_metformin_500', '0093-1048-01', 'Metformin', 'metformin hydrochloride', '500 mg', 'tablet'),
    ('med_lisinopril_10', '0591-0408-01', 'Lisinopril', 'lisinopril', '10 mg', 'tablet')
ON CONFLICT ("ndc") DO NOTHING;

-- Every medication is also sold in the storefront; skip the ones already listed.
INSERT INTO "Product" ("id", "sku", "name", "priceCents", "updatedAt")
SELECT 'prd_' || m."id", m."ndc", m."name" || ' ' || m."strength", 0, CURRENT_TIMESTAMP
FROM "Medication" m
WHERE NOT EXISTS (SELECT 1 FROM "Product" p WHERE p."sku" = m."ndc");
