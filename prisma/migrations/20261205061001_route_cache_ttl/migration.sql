-- AlterTable
ALTER TABLE "ModelRoute" ADD COLUMN     "cacheTtlSec" INTEGER;
