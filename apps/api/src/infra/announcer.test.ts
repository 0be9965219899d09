import { describe, expect, it } from "vitest";
import { createAnnouncer } from "./announcer.ts";

describe("announcer", () => {
  it("tells every listener, reports one that throws, and tells the rest anyway", () => {
    const failures: unknown[] = [];
    const changes = createAnnouncer<string>((error) => failures.push(error));
    const heard: string[] = [];
    changes.listen(() => {
      throw new Error("listener bug");
    });
    changes.listen((id) => heard.push(`b:${id}`));
    changes.announce("u1");
    expect(heard).toEqual(["b:u1"]);
    expect(failures).toHaveLength(1);
  });

  it("stops telling a listener once it unsubscribes, even from inside an announcement", () => {
    const changes = createAnnouncer<number>(() => {});
    const heard: number[] = [];
    const off = changes.listen((n) => {
      heard.push(n);
      off();
    });
    changes.announce(1);
    changes.announce(2);
    expect(heard).toEqual([1]);
    changes.listen((n) => heard.push(n * 10));
    changes.clear();
    changes.announce(3);
    expect(heard).toEqual([1]);
  });
});
