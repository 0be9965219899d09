-- AlterTable
ALTER TABLE "ConfigAudit" ADD COLUMN     "seq" SERIAL NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "ConfigAudit_seq_key" ON "ConfigAudit"("seq");
