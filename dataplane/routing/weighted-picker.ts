/**
 * Smooth weighted round-robin (the nginx algorithm): each pick adds every weight to its current
 * value, takes the largest, and subtracts the total from it. Deterministic and evenly spread:
 * weights 70/30 give exactly 7 and 3 picks in every window of 10, interleaved (not 7 then 3).
 */
export class WeightedPicker<T> {
  private readonly items: readonly T[];
  private readonly weights: Int32Array;
  private readonly current: Int32Array;
  private readonly total: number;

  /** Items with weight 0 are never picked. */
  constructor(items: readonly { item: T; weight: number }[]) {
    this.items = items.map((i) => i.item);
    this.weights = Int32Array.from(items.map((i) => i.weight));
    this.current = new Int32Array(items.length);
    this.total = items.reduce((n, i) => n + i.weight, 0);
  }

  /** Next item, or undefined when every weight is 0. */
  pick(): T | undefined {
    if (this.total === 0) return undefined;
    let best = -1;
    for (let i = 0; i < this.weights.length; i++) {
      if (this.weights[i] === 0) continue;
      this.current[i] += this.weights[i]!;
      if (best < 0 || this.current[i]! > this.current[best]!) best = i;
    }
    this.current[best] -= this.total;
    return this.items[best];
  }
}
