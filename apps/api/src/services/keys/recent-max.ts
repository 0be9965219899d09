/**
 * The largest value noted over a sliding window, kept as one maximum per slot (an hour, for
 * a window of a day): a value counts while it is recent and gives way to later ones once
 * its slot leaves the window, and nothing grows with the number of values noted.
 */
export class RecentMax {
  /** Per ring position: the slot it holds (time / slotMs) and that slot's maximum. */
  private readonly slotOf: number[];
  private readonly maxOf: number[];

  constructor(
    private readonly slotMs: number,
    private readonly slots: number,
  ) {
    this.slotOf = new Array<number>(slots).fill(-Infinity);
    this.maxOf = new Array<number>(slots).fill(0);
  }

  /** Notes a value made at `atMs` (now by default; earlier ones count until their own slot leaves). */
  note(value: number, atMs = Date.now()): void {
    const slot = Math.floor(atMs / this.slotMs);
    const i = ((slot % this.slots) + this.slots) % this.slots;
    // The position holds a later slot already: this value has left the window.
    if (this.slotOf[i]! > slot) return;
    if (this.slotOf[i] !== slot) {
      this.slotOf[i] = slot;
      this.maxOf[i] = value;
    } else if (value > this.maxOf[i]!) {
      this.maxOf[i] = value;
    }
  }

  /**
   * The largest value noted within the window that ends now. When none was, the latest slot's
   * maximum however old: a figure once known gives way to newer ones, never to nothing. 0
   * when nothing was ever noted.
   */
  value(nowMs = Date.now()): number {
    const oldest = Math.floor(nowMs / this.slotMs) - this.slots + 1;
    let max = 0;
    let inWindow = false;
    let latest = 0;
    for (let i = 0; i < this.slots; i++) {
      if (this.slotOf[i]! >= oldest) {
        inWindow = true;
        if (this.maxOf[i]! > max) max = this.maxOf[i]!;
      }
      if (this.slotOf[i]! > this.slotOf[latest]!) latest = i;
    }
    return inWindow ? max : this.maxOf[latest]!;
  }
}
