import { describe, expect, it } from "vitest";
import { addressKey } from "./client-address.ts";

describe("addressKey", () => {
  it("keeps an IPv4 address, and reads an IPv4-mapped IPv6 address as it", () => {
    expect(addressKey("203.0.113.9")).toBe("203.0.113.9");
    expect(addressKey("::ffff:203.0.113.9")).toBe("203.0.113.9");
  });

  it("counts every IPv6 address of one /64 as one client, however it is written", () => {
    const spellings = ["2001:db8:1:2::1", "2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2:0:0:0:7", "2001:DB8:1:2::abcd%eth0"];
    expect(new Set(spellings.map(addressKey))).toEqual(new Set(["2001:db8:1:2::/64"]));
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1")).toBe("fe80:0:0:0::/64");
  });

  it("leaves what is not an address as it is (an unknown client)", () => {
    expect(addressKey("unknown")).toBe("unknown");
  });
});
