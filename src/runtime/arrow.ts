// apache-arrow, as the codec reaches it. Everywhere but a worker thread this is the installed
// package, loaded with the codec. A worker thread's bundle swaps this module for one that
// loads the package on first use (src/runtime/embedded/threads.ts), synchronously and as the
// same ES module instance user code gets from `import("apache-arrow")`: a thread then starts
// without paying ~100 ms for Arrow unless a table reaches it.
import * as arrowModule from "apache-arrow";

export type Arrow = typeof arrowModule;

/** The module if it is loaded in this thread. */
export function arrowLoaded(): Arrow | undefined {
  return arrowModule;
}

/** The module, loading it now if need be. */
export function requireArrow(): Arrow {
  return arrowModule;
}
