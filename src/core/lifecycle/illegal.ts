// Thrown by every lifecycle (plain function and chart alike) when an event is not allowed in
// the current state. Callers decide whether that is a bug (usually) or a stale message to drop.
export class IllegalTransition extends Error {
  constructor(
    readonly machine: string,
    readonly state: string,
    readonly event: string,
  ) {
    super(`${machine}: event ${event} is not allowed in state ${state}`);
    this.name = "IllegalTransition";
  }
}
