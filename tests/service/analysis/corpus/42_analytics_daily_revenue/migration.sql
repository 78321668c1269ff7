-- Daily revenue for the finance dashboard, refreshed by the reporting job. Outside Prisma's
-- schema on purpose: nothing in the app reads it.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.daily_revenue AS
SELECT date_trunc('day', o."createdAt") AS day,
       count(*) AS order_count,
       sum(o."totalCents") AS revenue_cents
FROM "Order" o
WHERE o."status" IN ('PAYMENT_CAPTURED', 'SHIPPED', 'DELIVERED')
GROUP BY 1
WITH NO DATA;

-- REFRESH … CONCURRENTLY, which the reporting job uses, needs a unique index.
CREATE UNIQUE INDEX IF NOT EXISTS daily_revenue_day_key ON analytics.daily_revenue (day);

REFRESH MATERIALIZED VIEW analytics.daily_revenue;
