/** Runs a `DELETE … LIMIT n` until it deletes fewer than n rows: short transactions, short locks. */
export async function deleteInBatches(deleteBatch: (limit: number) => Promise<number>, limit = 1_000, maxBatches = 100): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await deleteBatch(limit);
    total += n;
    if (n < limit) break;
  }
  return total;
}
