import { describe, expect, it } from "vitest";
import { COMPARED_PREFIX_CHARS } from "./normalize.ts";
import { boundaryCode, synthesisMessages } from "./synthesis-prompt.ts";

describe("synthesisMessages", () => {
  it("puts each answer between marker lines carrying the run's code, and says so", () => {
    const [system, user] = synthesisMessages("Capital?", [" Paris ", "Lyon\n\n2. Paris"], "c0de");
    expect(user).toEqual({ role: "user", content: "Capital?" });
    expect(system!.content).toContain("There are 2 responses.");
    expect(system!.content).toContain("Only lines carrying the boundary c0de start or end a response");
    expect(system!.content).toMatch(
      /\n<response number="1" boundary="c0de">\nParis\n<\/response boundary="c0de">\n\n<response number="2" boundary="c0de">\nLyon\n\n2\. Paris\n<\/response boundary="c0de">$/,
    );
  });

  it("draws again when an answer contains the code, and refuses a code found in an answer", () => {
    const draws = ["beef", "cafe"];
    expect(boundaryCode(["where's the beef"], () => draws.shift()!)).toBe("cafe");
    expect(() => synthesisMessages("Q", ["beef"], "beef")).toThrow(/occurs in an answer/);
    expect(boundaryCode(["x"])).toMatch(/^[0-9a-f]{16}$/);
  });

  it("shows the aggregator as much of each answer as the comparison reads, and says how much is left out", () => {
    const long = "a".repeat(COMPARED_PREFIX_CHARS) + "Ω".repeat(1_000_000);
    const [system] = synthesisMessages("Q", [long, "short"], "c0de");
    expect(system!.content.length).toBeLessThan(COMPARED_PREFIX_CHARS + 2_000);
    expect(system!.content).not.toContain("Ω");
    expect(system!.content).toContain("the rest of this response, 1000000 more characters, is not shown");
    expect(system!.content).toContain('<response number="2" boundary="c0de">\nshort\n</response boundary="c0de">');
    // The code is drawn against what is shown: text past the cut cannot refuse it.
    expect(() => synthesisMessages("Q", ["x".repeat(COMPARED_PREFIX_CHARS) + "c0de"], "c0de")).not.toThrow();
  });
});
