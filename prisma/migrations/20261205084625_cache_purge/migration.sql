-- CreateTable
CREATE TABLE "CachePurge" (
    "id" TEXT NOT NULL,
    "actorId" TEXT NOT NULL,
    "actorEmail" TEXT NOT NULL,
    "actorKeyId" TEXT,
    "userId" TEXT,
    "userEmail" TEXT,
    "everyone" BOOLEAN NOT NULL,
    "purgedAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CachePurge_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CachePurge_createdAt_idx" ON "CachePurge"("createdAt");
