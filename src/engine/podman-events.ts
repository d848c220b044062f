// Podman's event stream (GET /events on its Docker-compatible API) in Docker's terms. Podman 4.3
// filters by its own event names (`died`, `remove`, `exec`) although it shows `die` for `died`;
// it shows `remove` where Docker says `destroy`; a volume event has no ID (the name is in its
// attributes); a network disconnect names the container, not the network; and `docker stop`
// makes a `stop` event only sometimes (its `die` always). The watch triggers ask in Docker's
// terms and read Docker's shape; these two functions translate on Podman. README "Podman".

/** Docker's event name → what Podman's filter matches. */
const PODMAN_FILTER_EVENT: Record<string, string> = { die: 'died', destroy: 'remove', exec_create: 'exec', exec_start: 'exec' };

/** Docker's event filters as Podman's stream matches them. */
export function podmanEventFilters(filters: Record<string, string[]>): Record<string, string[]> {
  const event = filters.event;
  if (!event) return filters;
  return { ...filters, event: [...new Set(event.map((e) => PODMAN_FILTER_EVENT[e] ?? e))] };
}

interface StreamEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  [key: string]: unknown;
}

/** Podman's action name → Docker's. */
const DOCKER_ACTION: Record<string, string> = { died: 'die', remove: 'destroy', exec: 'exec_start' };

/**
 * One Podman event as Docker would show it. A network disconnect keeps the container's name as
 * `containerName` (Podman does not say which network): Docker's `name` is the network's.
 */
export function podmanEventInDockerTerms(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const event = raw as StreamEvent;
  const action = event.Action ?? '';
  const attrs = event.Actor?.Attributes ?? {};
  const out: StreamEvent = { ...event, Action: DOCKER_ACTION[action] ?? action };
  if (event.Type === 'volume') out.Actor = { ...event.Actor, ID: event.Actor?.ID || attrs.name || '' };
  if (event.Type === 'network' && (action === 'disconnect' || action === 'connect')) {
    const { name, ...rest } = attrs;
    out.Actor = { ID: '', Attributes: { ...rest, container: event.Actor?.ID ?? '', ...(name ? { containerName: name } : {}) } };
  }
  return out;
}
