-- CreateTable
CREATE TABLE "UsageRollup" (
    "day" DATE NOT NULL,
    "userId" TEXT NOT NULL DEFAULT '',
    "keyId" TEXT NOT NULL DEFAULT '',
    "model" TEXT NOT NULL DEFAULT '',
    "provider" TEXT NOT NULL DEFAULT '',
    "requests" INTEGER NOT NULL DEFAULT 0,
    "promptTokens" BIGINT NOT NULL DEFAULT 0,
    "completionTokens" BIGINT NOT NULL DEFAULT 0,
    "costUsd" DOUBLE PRECISION NOT NULL DEFAULT 0,

    CONSTRAINT "UsageRollup_pkey" PRIMARY KEY ("day","userId","keyId","model","provider")
);

-- CreateIndex
CREATE INDEX "UsageRollup_userId_day_idx" ON "UsageRollup"("userId", "day");

-- CreateIndex
CREATE INDEX "UsageRollup_keyId_day_idx" ON "UsageRollup"("keyId", "day");
