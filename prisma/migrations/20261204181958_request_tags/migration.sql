-- AlterTable
ALTER TABLE "RequestLog" ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[];
