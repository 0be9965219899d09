-- AlterTable
ALTER TABLE "EmergencyEvent" ADD COLUMN     "seq" SERIAL NOT NULL;

-- Rows written before: numbered in the order the audit trail showed them (time, then id),
-- not in the order the table happens to hold them.
UPDATE "EmergencyEvent" AS e SET "seq" = o.n
FROM (SELECT "id", row_number() OVER (ORDER BY "createdAt", "id") AS n FROM "EmergencyEvent") AS o
WHERE e."id" = o."id";
SELECT setval(pg_get_serial_sequence('"EmergencyEvent"', 'seq'), COALESCE(MAX("seq"), 0) + 1, false) FROM "EmergencyEvent";

-- CreateIndex
CREATE UNIQUE INDEX "EmergencyEvent_seq_key" ON "EmergencyEvent"("seq");
