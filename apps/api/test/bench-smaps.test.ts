import { describe, expect, it } from "vitest";
import { summarizeSmaps } from "../bench/smaps.ts";

/** One /proc/<pid>/smaps entry: a header and the two fields the summary reads. */
const entry = (range: string, perms: string, path: string, rssKb: number) =>
  `${range} ${perms} 00000000 00:00 0      ${path}\nSize:   1 kB\nRss:    ${rssKb} kB\nPss:    ${rssKb} kB\n`;

describe("summarizeSmaps", () => {
  it("sorts resident memory into malloc, WebAssembly memory, V8 and file mappings", () => {
    const smaps = [
      entry("00400000-00b6f000", "r-xp", "/usr/bin/node", 6000),
      entry("3a031000-3f443000", "rw-p", "[heap]", 80_000),
      // A WebAssembly memory: accessible pages inside a reservation of inaccessible ones.
      entry("7f8d7c6c0000-7f8dfc6c0000", "---p", "", 0),
      entry("7f8dfc6c0000-7f8e046c0000", "rw-p", "", 20_000),
      entry("7f8e046c0000-7f8ffc6c0000", "---p", "", 0),
      // A glibc arena: 64 MB-aligned.
      entry("7f92a0000000-7f92a2d6f000", "rw-p", "", 39_000),
      // V8 heap pages.
      entry("1fd8e00c0000-1fd8e02f6000", "rw-p", "", 2_000),
      entry("7f9300000000-7f9300100000", "r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6", 500),
      entry("7ffd00000000-7ffd00021000", "rw-p", "[stack]", 100),
    ].join("");
    const { rss, byKind } = summarizeSmaps(smaps, "/usr/bin/node");
    expect(rss).toBe((6000 + 80_000 + 20_000 + 39_000 + 2_000 + 500 + 100) * 1024);
    expect(byKind).toEqual({
      "node binary": 6000 * 1024,
      "malloc: main arena": 80_000 * 1024,
      "WebAssembly memory": 20_000 * 1024,
      "malloc: other arenas": 39_000 * 1024,
      "other anonymous": 2_100 * 1024,
      "other files": 500 * 1024,
    });
  });
});
