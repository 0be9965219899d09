-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[];
