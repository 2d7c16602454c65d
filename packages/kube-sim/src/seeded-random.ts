/**
 * mulberry32: a small seeded PRNG, uniform in [0, 1), for the seeded interleavings of the tests
 * and benches that run on the simulator: the same seed replays the same interleaving.
 */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}
