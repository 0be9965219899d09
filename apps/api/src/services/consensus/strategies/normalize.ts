/**
 * Answer normalisation for voting: two answers that say the same short thing should compare
 * equal. Follows SQuAD's answer normalisation (lower case, no punctuation, no articles,
 * single spaces; Rajpurkar et al. 2016) and adds what models vary in besides: accents, a
 * lead-in such as "The answer is", markdown emphasis, and number formats ("1,000", "1000.0",
 * "1e3", "one thousand" are all "1000").
 */
import { numberWordsToDigits } from "./number-words.ts";

/** Thousands separators are only recognised in the strict 1,234,567 shape ("1,5" is not 1.5). */
/** Dotted runs such as versions and addresses (2.0.1, 10.0.0.1) are not numbers and stay as written. */
const NUMBER = /(?<![\p{L}\p{N}]|\d\.)([-+]?)((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:e([-+]?\d+))?(?![\p{L}\p{N}]|\.\d)/giu;
const LEAD_IN = /^(?:(?:so|thus|therefore),?\s+)?(?:the\s+)?(?:final\s+|correct\s+|short\s+)?answer\s*(?:is\s*:?|:|=)\s*/i;
const ARTICLES = new Set(["a", "an", "the"]);

/**
 * How much of an answer the comparison reads (normalisation, vote keys, medoid similarity).
 * Normalising costs about 200 ms per MB on the event loop, so a model answering megabytes
 * would stall every other request; 64k characters is far more than any answer worth voting
 * on, and answers that agree on that much are taken to agree. The answer returned is whole.
 */
export const COMPARED_PREFIX_CHARS = 65_536;

/** The part of an answer the comparison reads; never ends on half a surrogate pair. */
export function comparedPrefix(text: string): string {
  if (text.length <= COMPARED_PREFIX_CHARS) return text;
  const last = text.charCodeAt(COMPARED_PREFIX_CHARS - 1);
  const highSurrogate = last >= 0xd800 && last <= 0xdbff;
  return text.slice(0, highSurrogate ? COMPARED_PREFIX_CHARS - 1 : COMPARED_PREFIX_CHARS);
}

/** "0012.50" → "12.5", "-0" → "0"; exponents are applied ("1e3" → "1000"). Exact: no floats. */
export function canonicalNumber(sign: string, digits: string, exponent: string | undefined): string {
  let [int = "", frac = ""] = digits.replace(/,/g, "").split(".");
  if (exponent !== undefined) {
    const shift = Number(exponent);
    // Past this the text is not a short answer any more; keep it as written.
    if (Math.abs(shift) > 30) return `${sign === "-" ? "-" : ""}${digits}e${exponent}`;
    const all = int + frac;
    const point = int.length + shift;
    if (point <= 0) [int, frac] = ["0", "0".repeat(-point) + all];
    else if (point >= all.length) [int, frac] = [all + "0".repeat(point - all.length), ""];
    else [int, frac] = [all.slice(0, point), all.slice(point)];
  }
  int = int.replace(/^0+(?=\d)/, "") || "0";
  frac = frac.replace(/0+$/, "");
  const magnitude = frac ? `${int}.${frac}` : int;
  return sign === "-" && magnitude !== "0" ? `-${magnitude}` : magnitude;
}

/** The text a vote compares, from the answer's compared prefix. Empty when nothing comparable is left. */
export function normalizeAnswer(text: string): string {
  // Markdown emphasis and code marks; quotes around the whole answer and a closing full stop.
  let s = comparedPrefix(text).normalize("NFKC").replace(/[*_`~]+/g, " ").trim();
  s = s.replace(/^["'“”‘’«»]+|["'“”‘’«».!]+$/g, "").trim();
  s = s.replace(LEAD_IN, "").replace(/\u2212(?=\d)/g, "-");
  s = s.replace(NUMBER, (_m, sign: string, digits: string, exponent: string | undefined) => ` ${canonicalNumber(sign, digits, exponent)} `);
  // Accents off ("Zürich" = "Zurich"), then lower case.
  s = s.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase();
  // Punctuation becomes space, except a decimal point or a minus sign that belongs to a number.
  s = s.replace(/(?<!\d)\.|\.(?!\d)/g, " ").replace(/-(?!\d)|(?<=[\p{L}\p{N}])-/gu, " ");
  s = s.replace(/[^\p{L}\p{N}\s.%$€£¥-]/gu, " ");
  s = s.replace(/\s+/g, " ").trim();
  s = numberWordsToDigits(s).replace(/(\d) (?:%|percent\b|per cent\b)/g, "$1%");
  const words = s.split(" ").filter((w) => w !== "");
  // Articles go (SQuAD), unless nothing else is left: "A" may be a multiple-choice answer.
  const content = words.filter((w) => !ARTICLES.has(w));
  return (content.length > 0 ? content : words).join(" ");
}

/** Words of a normalised answer (for similarity measures). */
export function tokensOf(text: string): string[] {
  const normalized = normalizeAnswer(text);
  return normalized === "" ? [] : normalized.split(" ");
}
