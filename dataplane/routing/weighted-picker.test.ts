import { WeightedPicker } from './weighted-picker';

describe('WeightedPicker', () => {
  it.each([
    [[70, 30], 10, [7, 3]],
    [[70, 30], 100, [70, 30]],
    [[1, 1, 1], 9, [3, 3, 3]],
    [[100, 0], 10, [10, 0]],
    [[50, 25, 25], 4, [2, 1, 1]],
  ])('weights %j over %i picks give %j', (weights, n, expected) => {
    const p = new WeightedPicker(weights.map((w, i) => ({ item: i, weight: w })));
    const counts = weights.map(() => 0);
    for (let i = 0; i < n; i++) counts[p.pick()!]! += 1;
    expect(counts).toEqual(expected);
  });

  it('holds 70/30 in every consecutive window of 10', () => {
    const p = new WeightedPicker([{ item: 'a', weight: 70 }, { item: 'b', weight: 30 }]);
    const seq = Array.from({ length: 100 }, () => p.pick());
    for (let start = 0; start + 10 <= 100; start += 10) {
      expect(seq.slice(start, start + 10).filter((x) => x === 'a')).toHaveLength(7);
    }
  });

  it('picks nothing when all weights are 0', () => {
    expect(new WeightedPicker([{ item: 1, weight: 0 }]).pick()).toBeUndefined();
  });
});
