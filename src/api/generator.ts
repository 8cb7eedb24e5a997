// Ray's ObjectRefGenerator: what calling a generator function (or generator actor method) remotely
// gives. Its task streams: each value the generator yields becomes an object of its own, and the
// caller gets a ref to it as soon as the task reports it, before the task ends. Iterate it with
// `for await (const ref of gen)` or `await gen.next()`; an error the task ends with is the last
// item (its get throws), as in Ray.

import { ObjectRef } from "./handles.ts";

export class ObjectRefGenerator<T = unknown> implements AsyncIterableIterator<ObjectRef<T>> {
  private index = 0;

  /** `ref`: the object of the generator's task (ray.cancel and ray.release take the generator for it). */
  constructor(readonly ref: ObjectRef<unknown>, private readonly item: (index: number) => Promise<ObjectRef<T> | undefined>) {}

  /** The next item's ref, once the task yielded it; `done` once the stream ended. Calls may overlap: each takes the next index. */
  async next(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    const i = this.index++;
    let ref: ObjectRef<T> | undefined;
    try {
      ref = await this.item(i);
    } catch (e) {
      // Not answered (a cancelled task's wait, withdrawn): the item is still to be taken, by the
      // next call, unless another call took the following index meanwhile.
      if (this.index === i + 1) this.index = i;
      throw e;
    }
    return ref === undefined ? { done: true, value: undefined } : { done: false, value: ref };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  toString(): string { return `ObjectRefGenerator(${this.ref.id})`; }
}

/** Whether a function's source is a generator function (`function*`, `async function*`). */
export function isGeneratorSource(source: string): boolean {
  return /^(async\s+)?function\s*\*/.test(source);
}
