import { describe, expect, it } from "vitest";
import { otherModelsNotTried, sameModelTargets } from "./embedding-targets.ts";

const target = (id: string, model: string) => ({ p: { id }, model });

describe("sameModelTargets", () => {
  it("keeps the first target's model on every provider, in order, and sets the others aside", () => {
    const targets = sameModelTargets([target("a", "small"), target("b", "nomic"), target("c", "small")]);
    expect(targets.usable).toEqual([target("a", "small"), target("c", "small")]);
    expect(targets.otherModels).toEqual([target("b", "nomic")]);
    expect(otherModelsNotTried(targets)).toBe(
      "no other target serves small; the route's targets of other models (b/nomic) are not tried for embeddings, since vectors from different models are not comparable",
    );
  });

  it("a route without targets has nothing to try", () => {
    expect(sameModelTargets([])).toEqual({ usable: [], otherModels: [] });
  });
});
