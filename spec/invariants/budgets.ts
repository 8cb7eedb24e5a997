// Budgets (part of invariant 2, errors only when earned, read the other way round): retries
// stay within what the caller allowed, and one attempt of a task runs at most once — a
// duplicated message must never execute twice.
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "budgets";

export const checkBudgets: Checker = (events) => {
  const out: Violation[] = [];
  const budget = new Map<string, number>();
  const retries = new Map<string, number>();
  const started = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind === "task.submitted") budget.set(e.task, e.maxRetries);
    else if (e.kind === "task.retry" && e.uncharged !== true) {
      const n = (retries.get(e.task) ?? 0) + 1;
      retries.set(e.task, n);
      const max = budget.get(e.task);
      if (max !== undefined && max >= 0 && n > max) {
        out.push(violationAt(NAME, events, i, `task ${e.task} retried ${n} times, over its budget of maxRetries=${max}`));
      }
    } else if (e.kind === "task.started") {
      const key = `${e.task}#${e.attempt}`;
      if (started.has(key)) out.push(violationAt(NAME, events, i, `attempt ${e.attempt} of task ${e.task} ran twice (a duplicated message was executed)`));
      started.add(key);
    }
  }
  return out;
};
