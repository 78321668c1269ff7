-- Unused since the account page reads orders through invoices (no scans in 30 days according to
-- pg_stat_user_indexes). Dropped concurrently, alone in its file, so checkout never waits on it.
DROP INDEX CONCURRENTLY IF EXISTS "Order_patientId_idx";
