// Fairness of a simulated sale, from outside: how admission order compares with arrival order, and
// who won the seats by when they arrived. Pure functions over the sale's records.

/** Kendall's tau-a between two rankings of the same items (1: same order, 0: unrelated, -1: reversed). */
export function kendallTau(order: readonly number[], reference: readonly number[]): number {
  const n = order.length;
  if (n < 2) return 1;
  const rank = new Map(reference.map((id, i) => [id, i]));
  const ranks = order.map((id) => rank.get(id) ?? 0);
  const discordant = countInversions(ranks);
  const pairs = (n * (n - 1)) / 2;
  return (pairs - 2 * discordant) / pairs;
}

/** Inversions by merge sort, O(n log n). */
function countInversions(a: number[]): number {
  if (a.length < 2) return 0;
  const mid = a.length >> 1;
  const left = a.slice(0, mid);
  const right = a.slice(mid);
  let count = countInversions(left) + countInversions(right);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < left.length && j < right.length) {
    if (left[i]! <= right[j]!) a[k++] = left[i++]!;
    else {
      a[k++] = right[j++]!;
      count += left.length - i;
    }
  }
  while (i < left.length) a[k++] = left[i++]!;
  while (j < right.length) a[k++] = right[j++]!;
  return count;
}

/** The largest |place admitted − place arrived| among members in both orders. */
export function largestDisplacement(admitted: readonly number[], arrived: readonly number[]): number {
  const arrival = new Map(arrived.map((id, i) => [id, i]));
  let max = 0;
  admitted.forEach((id, i) => {
    const a = arrival.get(id);
    if (a !== undefined) max = Math.max(max, Math.abs(a - i));
  });
  return max;
}

/** The share of seats won by each tenth of the arrivals (first tenth first). */
export function seatsByArrivalDecile(
  arrived: readonly number[],
  seats: ReadonlyMap<number, number>,
): number[] {
  const out = Array.from({ length: 10 }, () => 0);
  let total = 0;
  arrived.forEach((id, i) => {
    const n = seats.get(id) ?? 0;
    out[Math.min(9, Math.floor((i * 10) / arrived.length))]! += n;
    total += n;
  });
  return out.map((n) => (total ? Math.round((n / total) * 1000) / 1000 : 0));
}
