/**
 * The order bench:peers measures its targets in, round by round.
 *
 * Where a target stands in a round moves its figures: measured right after another gateway's
 * c=32 load, a target reads differently than after the direct upstream's light traffic (one
 * round measured this checkout before the base build every time and read it at 0.81× at c=32;
 * the same two builds, swapped, read 1.03×). Rotating alone keeps each target's neighbour the
 * same, so every even round rotates one step further and every odd round runs the round
 * before it backwards: over an even number of rounds each target goes before every other one
 * exactly as often as after it. What comes right before a target is not balanced: it is one of
 * its two neighbours in the list (or, opening an odd round, the same target, last in the round
 * before) — which is why the report also shows a pair apart by which of the two went first.
 */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  const shift = Math.floor(round / 2) % Math.max(1, targets.length);
  const rotated = [...targets.slice(shift), ...targets.slice(0, shift)];
  return round % 2 === 0 ? rotated : rotated.reverse();
}

/** The rounds (0-based) in which `first` is measured before `second`. */
export function roundsWithFirst<T>(targets: readonly T[], rounds: number, first: T, second: T): number[] {
  const out: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = roundOrder(targets, round);
    if (order.indexOf(first) < order.indexOf(second)) out.push(round);
  }
  return out;
}
