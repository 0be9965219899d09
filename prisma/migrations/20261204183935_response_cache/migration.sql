-- AlterTable
ALTER TABLE "RequestLog" ADD COLUMN     "cacheHit" BOOLEAN NOT NULL DEFAULT false;
