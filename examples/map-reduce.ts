// A word count as map-reduce: the corpus is cut into chunks that go into the object store,
// one map task per chunk counts its words, and merge tasks combine the counts pairwise in a
// tree, each taking its two inputs as object refs. Only the final count comes back to the
// driver. With several nodes the map tasks spread out once the head node is busy, and the
// chunks and partial counts move between nodes as objects.
// Run it: `tsray sim examples/map-reduce.ts --seed 1 --nodes 4`
import type { Ray } from "../src/api/ray.ts";

export const CHUNKS = 32;
export const WORDS_PER_CHUNK = 200;

const VOCABULARY = [
  "actor", "object", "task", "node", "raylet", "owner", "lease", "worker", "store", "spill",
  "lineage", "retry", "seed", "trace", "event", "queue", "clock", "message", "latency", "chunk",
];

/** The input text, chunk by chunk: pseudo-random but fixed (a linear congruential generator). */
export function corpus(chunks = CHUNKS, wordsPerChunk = WORDS_PER_CHUNK): string[] {
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const out: string[] = [];
  for (let c = 0; c < chunks; c++) {
    const words: string[] = [];
    // Skewed towards the start of the vocabulary, so the counts differ from word to word.
    for (let w = 0; w < wordsPerChunk; w++) words.push(VOCABULARY[Math.min(next() % 20, next() % 20)]);
    out.push(words.join(" "));
  }
  return out;
}

export interface WordCount {
  /** Words counted in total. */
  readonly total: number;
  /** Distinct words seen. */
  readonly distinct: number;
  /** The five most frequent words, most frequent first (ties broken alphabetically). */
  readonly top: [string, number][];
}

/** The answer computed without Ray, to check the distributed one against. */
export function summarize(counts: Record<string, number>): WordCount {
  const entries = Object.entries(counts);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return { total: entries.reduce((s, [, n]) => s + n, 0), distinct: entries.length, top: entries.slice(0, 5) };
}

export function countLocally(chunks: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const text of chunks) for (const w of text.split(" ")) counts[w] = (counts[w] ?? 0) + 1;
  return counts;
}

export default async function mapReduce(ray: Ray): Promise<WordCount> {
  // Map: count the words of one chunk. `ray` is available inside remote functions; the
  // virtual sleep stands for the work, so tasks overlap and the cluster fills up. (Named
  // function expressions give the tasks readable names in the trace: "countWords", "merge".)
  const countWords = ray.remote(async function countWords(text: string) {
    const counts: Record<string, number> = {};
    for (const w of text.split(" ")) counts[w] = (counts[w] ?? 0) + 1;
    await ray.sleep(5 + (text.length % 7));
    return counts;
  });
  // Reduce: merge two partial counts. Its arguments arrive as refs and are resolved first.
  const merge = ray.remote(async function merge(a: Record<string, number>, b: Record<string, number>) {
    const out: Record<string, number> = { ...a };
    for (const k of Object.keys(b)) out[k] = (out[k] ?? 0) + b[k];
    await ray.sleep(1);
    return out;
  });

  const chunks = await Promise.all(corpus().map((text) => ray.put(text)));
  // SPREAD: place the map tasks round-robin over the nodes rather than packing them.
  const spreadCount = countWords.options({ schedulingStrategy: "SPREAD" });
  let level = chunks.map((chunk) => spreadCount.remote(chunk));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(merge.remote(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return summarize(await ray.get(level[0]));
}
