-- Order status changes are audited for chargeback disputes.
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGSERIAL PRIMARY KEY,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION log_order_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."status" IS DISTINCT FROM OLD."status" THEN
        INSERT INTO audit_log (table_name, row_id, old_value, new_value)
        VALUES ('Order', NEW."id", OLD."status"::text, NEW."status"::text);
    END IF;
    RETURN NEW;
END;
$$;

-- Drop and create rather than CREATE OR REPLACE TRIGGER: the reporting replica still runs
-- PostgreSQL 13, which does not have it.
DROP TRIGGER IF EXISTS "Order_status_audit" ON "Order";
CREATE TRIGGER "Order_status_audit"
    AFTER UPDATE OF "status" ON "Order"
    FOR EACH ROW EXECUTE FUNCTION log_order_status_change();

-- The support dashboard's list of orders still in flight.
DROP VIEW IF EXISTS "OpenOrder";
CREATE VIEW "OpenOrder" AS
SELECT o."id", o."patientId", o."status", o."createdAt"
FROM "Order" o
WHERE o."status" IN ('PENDING', 'PAID', 'SHIPPED');
