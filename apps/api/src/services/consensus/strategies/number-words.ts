/**
 * English number words to digits ("twenty-one" → "21", "one thousand two hundred and five"
 * → "1205"), so "four" and "4" vote together. Deliberately small: cardinals up to the
 * billions; ordinals, fractions and other languages are left alone.
 */
const UNITS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16,
  seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const SCALES: Record<string, number> = { hundred: 100, thousand: 1_000, million: 1_000_000, billion: 1_000_000_000 };
const BIG_SCALES: Record<string, number> = { thousand: 1_000, million: 1_000_000, billion: 1_000_000_000 };

const isNumberWord = (w: string) => w in UNITS || w in TENS || w in SCALES;
const isDigitUnit = (w: string | undefined) => w !== undefined && w in UNITS && UNITS[w]! >= 1 && UNITS[w]! <= 9;

/** A group below 1000: [unit hundred [and]] [tens [unit] | unit-or-teen]. Null if ill-formed. */
function groupValue(words: string[]): number | null {
  let i = 0;
  let value = 0;
  if (words[i] === "hundred" || (isDigitUnit(words[i]) && words[i + 1] === "hundred")) {
    value = words[i] === "hundred" ? 100 : UNITS[words[i]!]! * 100;
    i += words[i] === "hundred" ? 1 : 2;
    if (words[i] === "and" && i + 1 < words.length) i += 1;
  }
  const word = words[i];
  if (word !== undefined && word in TENS) {
    value += TENS[word]!;
    i += 1;
    if (isDigitUnit(words[i])) value += UNITS[words[i++]!]!;
  } else if (word !== undefined && word in UNITS) {
    value += UNITS[word]!;
    i += 1;
  }
  return i === words.length && words.length > 0 ? value : null;
}

/** Value of a run of number words ("two million three hundred thousand and five"), or null. */
function valueOf(run: string[]): number | null {
  let total = 0;
  let lastScale = Infinity;
  let group: string[] = [];
  for (const word of run) {
    if (word in BIG_SCALES) {
      const scale = BIG_SCALES[word]!;
      const g = group.length === 0 ? 1 : groupValue(group);
      if (g === null || scale >= lastScale) return null;
      total += g * scale;
      lastScale = scale;
      group = [];
    } else if (word === "and" && group.length === 0 && total > 0) {
      continue; // "two thousand and ten"
    } else group.push(word);
  }
  if (group.length > 0) {
    const g = groupValue(group);
    if (g === null) return null;
    total += g;
  }
  return total;
}

const wordValue = (w: string) => String(UNITS[w] ?? TENS[w] ?? SCALES[w]);

/**
 * Replaces each run of number words in lower-case, space-separated text by its digits. A run
 * that is not one well-formed number ("one and two") has each word replaced on its own.
 */
export function numberWordsToDigits(text: string): string {
  const words = text.split(" ").flatMap((w) => (/^[a-z]+-[a-z]+$/.test(w) && w.split("-").every(isNumberWord) ? w.split("-") : [w]));
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    // A trailing "and" belongs to the text, not the number ("one and only").
    const trailing = run.at(-1) === "and" ? run.pop() : undefined;
    if (run.length > 0) {
      const value = valueOf(run);
      if (value !== null) out.push(String(value));
      // One push per word: a spread passes every word as an argument, and a long run (a model
      // repeating "zero" a hundred thousand times) overflows the call stack.
      else for (const w of run) out.push(w === "and" ? w : wordValue(w));
    }
    if (trailing) out.push(trailing);
    run = [];
  };
  for (const word of words) {
    if (isNumberWord(word) || (word === "and" && run.length > 0)) run.push(word);
    else {
      flush();
      out.push(word);
    }
  }
  flush();
  return out.join(" ");
}
