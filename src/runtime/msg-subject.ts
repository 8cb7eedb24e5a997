// What a message is about, for `msg` trace events: the task, object, actor or placement group it
// names, so a sequence diagram can be cut down to one task (`tsray trace --mermaid --task ID`).
import type { Msg } from "../core/messages.ts";

export function msgSubject(m: Msg): string | undefined {
  switch (m.type) {
    case "RequestLease": return m.req.taskId;
    case "PushTask": return m.spec.taskId;
    case "TaskReply": case "TaskBounced": return m.taskId;
    default: {
      // Object, actor and group messages name their subject with one of these fields.
      const r = m as { id?: unknown; actorId?: unknown; pgId?: unknown };
      for (const v of [r.id, r.actorId, r.pgId]) if (typeof v === "string") return v;
      return undefined;
    }
  }
}
