/** How many units can be ordered now. */
export function StockLabel({ available }: { available: bigint }) {
  if (available <= 0n) return <p class="stock stock--out">Out of stock</p>;
  if (available <= 5n) return <p class="stock stock--low">Only {available.toString()} left</p>;
  return <p class="stock">In stock ({available.toString()} available)</p>;
}
