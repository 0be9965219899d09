/**
 * The order of a purge and its record: purge first, record after; a purge that does not
 * happen records nothing, and a record that cannot be written is never a claimed success.
 */
import { describe, expect, it } from "vitest";
import type { TCachePurgesPage } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import { createCachePurge } from "./cache-purge.ts";
import type { CachePurgeRecords, PurgeRecord } from "./cache-purge-records.ts";

const admin = { id: "a", email: "a@x.test", role: "ADMIN" as const, keyId: undefined };

function setup(opts: { purgeFails?: boolean; recordFails?: boolean; exists?: boolean } = {}) {
  const steps: string[] = [];
  const recorded: PurgeRecord[] = [];
  const errors: string[] = [];
  const records: CachePurgeRecords = {
    async record(r) {
      steps.push("record");
      if (opts.recordFails) throw new Error("database away");
      recorded.push(r);
    },
    list: async (): Promise<TCachePurgesPage> => ({ items: [], nextCursor: null }),
  };
  const purge = createCachePurge({
    cache: {
      async purge() {
        steps.push("purge");
        if (opts.purgeFails) throw new AppError("SERVICE_UNAVAILABLE", "nothing was purged");
        return new Date("2030-01-01T00:00:00.000Z");
      },
    },
    records,
    userExists: async () => opts.exists ?? true,
    log: { info: () => {}, error: (_obj: unknown, msg?: string) => void errors.push(msg ?? "") },
  });
  return { purge, steps, recorded, errors };
}

describe("a cache purge and its record", () => {
  it("purges, then records the time that holds", async () => {
    const s = setup();
    const result = await s.purge.purge(admin, { everyone: true });
    expect(s.steps).toEqual(["purge", "record"]);
    expect(s.recorded).toEqual([{ actor: { id: "a", email: "a@x.test", keyId: undefined }, whose: "everyone", purgedAt: new Date("2030-01-01T00:00:00.000Z") }]);
    expect(result).toEqual({ purgedAt: "2030-01-01T00:00:00.000Z", userId: null, everyone: true });
  });

  it("records nothing when the purge is refused, names nobody or fails", async () => {
    const refused = setup();
    await expect(refused.purge.purge({ ...admin, role: "USER" }, { everyone: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(refused.purge.purge({ ...admin, keyId: "k" }, { userId: "b" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(refused.steps).toEqual([]);
    const nobody = setup({ exists: false });
    await expect(nobody.purge.purge(admin, { userId: "b" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(nobody.steps).toEqual([]);
    const failed = setup({ purgeFails: true });
    await expect(failed.purge.purge(admin, {})).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(failed.steps).toEqual(["purge"]);
  });

  it("fails the call when the record cannot be written, and logs the purge that took effect", async () => {
    const s = setup({ recordFails: true });
    const error = await s.purge.purge(admin, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "SERVICE_UNAVAILABLE", message: expect.stringMatching(/purged, but .* not be recorded/) });
    expect(s.steps).toEqual(["purge", "record"]);
    expect(s.errors).toEqual(["response cache purged, but the purge could not be recorded"]);
  });
});
