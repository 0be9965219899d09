import { stringify } from "csv-stringify/sync";
import { describe, expect, it } from "vitest";
import { csvRecordCounter } from "./csv-records.ts";

const count = (...pieces: string[]) => {
  const counter = csvRecordCounter();
  for (const piece of pieces) counter.add(piece);
  return counter.records;
};

describe("csvRecordCounter", () => {
  it("counts the records csv-stringify writes, line ends and quotes inside cells included", () => {
    const rows = [["a", "b"], ["line\nbreak", 'a "quoted" word'], ["\r\n", '"'], ["=1+1", ""]];
    const text = stringify(rows, { escape_formulas: true });
    expect(count(text)).toBe(rows.length);
  });

  it("counts the same wherever the text is split, even inside a quoted cell or a doubled quote", () => {
    const text = stringify([["x", 'say ""hi""\nthere'], ["y", "z"]]);
    for (let at = 0; at <= text.length; at++) expect(count(text.slice(0, at), text.slice(at))).toBe(2);
  });

  it("leaves out a last record cut before its line end", () => {
    const text = stringify([["1", "one"], ["2", "two"]]);
    expect(count(text.slice(0, -3))).toBe(1);
    expect(count("")).toBe(0);
  });
});
