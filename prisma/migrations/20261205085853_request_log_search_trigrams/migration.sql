-- Trigram indexes for logs.list's free-text search (ILIKE '%q%' over six columns).
-- pg_trgm ships with PostgreSQL (contrib) and with PGlite (loaded in database-extensions.ts).
-- It is a trusted extension (PostgreSQL 13+): a role with CREATE on the database may create
-- it; otherwise a superuser runs this line once before the upgrade (docs/operations.md).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- IF NOT EXISTS: on a large log an operator may build these beforehand with CREATE INDEX
-- CONCURRENTLY (same names), which does not block the gateway's writes; this then skips them.
-- CreateIndex
CREATE INDEX IF NOT EXISTS "RequestLog_requestId_idx" ON "RequestLog" USING GIN ("requestId" gin_trgm_ops);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "RequestLog_route_idx" ON "RequestLog" USING GIN ("route" gin_trgm_ops);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "RequestLog_model_idx" ON "RequestLog" USING GIN ("model" gin_trgm_ops);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "RequestLog_upstreamModel_idx" ON "RequestLog" USING GIN ("upstreamModel" gin_trgm_ops);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "RequestLog_provider_idx" ON "RequestLog" USING GIN ("provider" gin_trgm_ops);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "RequestLog_errorCode_idx" ON "RequestLog" USING GIN ("errorCode" gin_trgm_ops);
