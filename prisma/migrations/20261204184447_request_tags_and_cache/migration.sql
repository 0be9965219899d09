-- Request tags (x-switchboard-tags, an API key's tags) and response-cache hits in the request
-- log. The GIN index is built while RequestLog's writes wait: on a log of millions of rows,
-- expect seconds to a minute (rows queue in memory meanwhile and are written after).

-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "RequestLog" ADD COLUMN     "cacheHit" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateIndex
CREATE INDEX "RequestLog_tags_idx" ON "RequestLog" USING GIN ("tags");
