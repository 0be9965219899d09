-- AlterTable
ALTER TABLE "TagBudget" ADD COLUMN     "keysOnly" BOOLEAN NOT NULL DEFAULT false;
