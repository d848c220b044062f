// A full refresh (`--refresh=full`): inspect every environment container for what the list call
// does not show (user, capabilities, privileged, security options, runtime, live limits). One
// inspect per container, a bounded number at a time; the common plan path makes none.
import type { ObservedContainer, ObservedState } from '../model/observed.js';
import { statusCode, withEngine, type Engine } from './client.js';
import { inspectedSecurity } from './isolation-facts.js';
import { liveResources } from './observe.js';
import { flavourOf } from './flavour.js';
import { podmanSecurity } from './podman-facts.js';

const IN_FLIGHT = 16;

export async function inspectSecurity(engine: Engine, observed: ObservedState): Promise<ObservedState> {
  const queue = [...observed.containers.values()];
  const podman = queue.length > 0 && flavourOf(await withEngine(() => engine.reader.version())) === 'podman';
  const refreshed = new Map<string, ObservedContainer>();
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const info = await engine.reader.inspectContainer(c.id).catch((err: unknown) => {
        // Removed since the list call: planned as listed; the apply's removal accepts a 404.
        if (statusCode(err) === 404) return null;
        throw err;
      });
      if (!info) continue;
      const security = podman ? podmanSecurity(info, await engine.reader.podmanInspect(c.id)) : inspectedSecurity(info);
      refreshed.set(c.environment, { ...c, inspected: security, resources: liveResources(info.HostConfig), resourcesFrom: 'engine' });
    }
  };
  await withEngine(() => Promise.all(Array.from({ length: Math.min(IN_FLIGHT, queue.length) }, worker)));
  return { ...observed, containers: new Map([...observed.containers].map(([env, c]) => [env, refreshed.get(env) ?? c])) };
}
