import { describe, expect, it } from "vitest";
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
});
