// Copying bytes into shared memory at memcpy speed.

/** Below this, TypedArray#set is as fast as anything (and allocates nothing). */
const FILL_COPY_MIN_BYTES = 64 * 1024;

/**
 * Copies `src` into `dst` at `offset`. Into a SharedArrayBuffer, V8's TypedArray#set copies word
 * by word with relaxed atomics (about 6 GB/s here for 256 MiB, any API built on it), whereas
 * Buffer#fill given a buffer exactly as long as the range is a plain memcpy in Node's C++ (about
 * 11.5 GB/s): large copies into shared memory take that path. Regions of one buffer use set,
 * which allows overlap.
 */
export function copyBytes(dst: Uint8Array, offset: number, src: Uint8Array): void {
  const n = src.byteLength;
  if (n >= FILL_COPY_MIN_BYTES && dst.buffer instanceof SharedArrayBuffer && src.buffer !== dst.buffer) {
    if (offset < 0 || offset + n > dst.byteLength) throw new RangeError(`copyBytes: ${n} bytes do not fit at offset ${offset} of ${dst.byteLength}`);
    Buffer.from(dst.buffer, dst.byteOffset + offset, n).fill(src);
  } else dst.set(src, offset);
}
