// Lists kept as plain arrays where a Map would churn: small, hot, mostly holding one entry.

/**
 * Removes item `i`, keeping the order of the rest, without allocating (Array.prototype.splice
 * allocates the array of what it removed). Linear in what follows `i`, as a splice is.
 */
export function removeAt<T>(list: T[], i: number): void {
  for (let k = i + 1; k < list.length; k++) list[k - 1] = list[k];
  list.pop();
}

/** The index of the last item whose `key` is `value`, or -1: a scan, for short lists. */
export function lastIndexWith<T, K extends keyof T>(list: readonly T[], key: K, value: T[K]): number {
  for (let i = list.length - 1; i >= 0; i--) if (list[i][key] === value) return i;
  return -1;
}
