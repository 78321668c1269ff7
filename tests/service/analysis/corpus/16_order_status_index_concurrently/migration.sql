-- The fulfilment queue filters orders by status and age; Order is too busy to lock for a build.
-- Alone in its file on purpose: CONCURRENTLY cannot share a transaction with anything else.
CREATE INDEX CONCURRENTLY "Order_status_createdAt_idx" ON "Order"("status", "createdAt");
