// Lists kept as plain arrays where a Map would churn: small, hot, mostly holding one entry.

/**
 * Removes item `i`, keeping the order of the rest, without allocating (Array.prototype.splice
 * allocates the array of what it removed). Linear in what follows `i`, as a splice is.
 */
export function removeAt<T>(list: T[], i: number): void {
  for (let k = i + 1; k < list.length; k++) list[k - 1] = list[k];
  list.pop();
}
