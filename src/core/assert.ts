// The models' own checks. An input a model cannot handle, or a state that breaks one of its
// invariants, is a bug in the model or in how a host wired it: the model throws at once, where
// the bug is, rather than carry on (TigerBeetle's habit). The simulator and the tests let the
// error surface; the real hosts report it (see the transport's onError).

/** A model was handed an input its switch does not know: the types said it could not happen. */
export class UnexpectedInputError extends Error {
  override readonly name = "UnexpectedInputError";
}

/** A model's invariant does not hold. */
export class InvariantError extends Error {
  override readonly name = "InvariantError";
}

/** The default branch of an exhaustive switch: unreachable by type, an error if reached. */
export function assertNever(model: string, x: never): never {
  const what = typeof x === "object" && x !== null ? JSON.stringify(x).slice(0, 200) : String(x);
  throw new UnexpectedInputError(`${model} cannot handle ${what}`);
}

/** Throws InvariantError with `message` unless `cond` holds. */
export function invariant(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantError(typeof message === "string" ? message : message());
}
