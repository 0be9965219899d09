-- AlterTable
ALTER TABLE "ConfigAudit" ADD COLUMN     "actorKeyId" TEXT;
