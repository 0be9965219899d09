-- AlterTable
ALTER TABLE "MetricBucket" DROP CONSTRAINT "MetricBucket_pkey",
ADD COLUMN     "completionTokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "instance" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "latencySketch" JSONB,
ADD COLUMN     "promptTokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "ttftCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "ttftTotal" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD CONSTRAINT "MetricBucket_pkey" PRIMARY KEY ("minute", "provider", "instance");
