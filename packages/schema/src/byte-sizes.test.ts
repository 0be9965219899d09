import { describe, expect, it } from "vitest";
import { formatMegabytes } from "./byte-sizes.ts";

describe("formatMegabytes", () => {
  it("says MB to two decimals, without trailing zeros", () => {
    expect(formatMegabytes(1024 * 1024)).toBe("1 MB");
    expect(formatMegabytes(20 * 1024 * 1024)).toBe("20 MB");
    expect(formatMegabytes(512 * 1024)).toBe("0.5 MB");
    // config.import's body limit: 16 MB and 64 KB, never rounded up to 16.1.
    expect(formatMegabytes(16 * 1024 * 1024 + 64 * 1024)).toBe("16.06 MB");
    expect(formatMegabytes(17_500_000)).toBe("16.69 MB");
  });
});
