// Security drift: a container whose live isolation differs from the spec its labels claim
// (recreated by hand with our labels copied, or changed with `docker network connect`).
// What the list call shows (network, mounts, image) is checked on every plan; user,
// capabilities, privileged, security options, runtime and the pids limit when a full refresh
// inspected the container. Compared against what engine/container-spec.ts creates.
import { engineRef } from '../config/image-ref.js';
import type { EnvironmentSpec } from '../model/desired.js';
import type { InspectedSecurity, ListedIsolation, ObservedMount } from '../model/isolation.js';
import { dataVolumeName, networkName, volumeName, WORKSPACE_PATH } from '../model/names.js';
import { EGRESS_POOL, ipv4ToInt, sandboxAddress } from '../model/egress.js';
import type { ObservedContainer } from '../model/observed.js';
import type { Reason } from './types.js';

export interface Drift {
  reasons: Reason[];
  /** One note naming every drifted attribute; empty when none. */
  security: string[];
}

/**
 * `configured`: the labelled spec is also the config's (same config hash), so messages can say
 * "config"; otherwise the config changed too and the label is what sandboxshift created.
 */
export function securityDrift(project: string, c: ObservedContainer, configured: boolean, subnet?: string): Drift {
  if (!c.spec) return { reasons: [], security: [] };
  const address = c.isolation && c.spec.network === 'egress' ? addressDrift(networkName(project, c.environment), c.isolation, subnet) : null;
  const found: Array<{ attribute: string; what: string; expected: string }> = [];
  const add = (attribute: string, what: string, expected: string) => found.push({ attribute, what, expected });
  if (c.isolation) listedDrift(project, c.environment, c.spec, c.isolation, add);
  if (!isImageId(c.image) && normalImage(c.image) !== normalImage(c.spec.image)) add('image', `image is ${c.image}`, c.spec.image);
  if (c.inspected) inspectedDrift(c.spec, c.inspected, add);
  const side = configured ? 'config' : 'created as';
  const reasons = found.map((f): Reason => ({ code: 'changed_outside', attribute: f.attribute, message: `changed outside sandboxshift: ${f.what} (${side}: ${f.expected})` }));
  const attributes = [...new Set(found.map((f) => f.attribute))];
  const security = attributes.length ? [`hardening changed outside sandboxshift (${attributes.join(', ')}); apply recreates it as configured`] : [];
  return { reasons: address ? [...reasons, address] : reasons, security };
}

/**
 * A sandbox on its egress network is fixed at the .3 of its subnet (see sandboxAddress). One
 * made before that, or reconnected by hand, has a dynamic address, which an engine restart can
 * hand out as the proxy's .2: the proxy then cannot start. Made again at the fixed address.
 * `subnet` is the network's as observed; without it the /28 around the address seen is used.
 */
function addressDrift(network: string, live: ListedIsolation, subnet: string | undefined): Reason | null {
  const a = live.addresses?.[network];
  if (!a || !live.networks.includes(network)) return null;
  const expected = subnet ? sandboxAddress(subnet) : sandboxAddressNear(a.fixed ?? a.address);
  if (a.fixed !== null && (expected === null || a.fixed === expected)) return null;
  // Podman: the address it has now is all there is to check (none while stopped).
  if (a.fixedUnknown) {
    if (a.address === '' || expected === null || a.address === expected) return null;
    return {
      code: 'egress_proxy',
      attribute: 'egress.address',
      message: `sandbox address on ${network} is ${a.address}, not ${expected} (the .3 of its subnet; the proxy has the .2): made again at ${expected}`,
    };
  }
  const want = expected ?? 'the .3 of its subnet';
  const message = a.fixed
    ? `sandbox address on ${network} is fixed at ${a.fixed}, not ${want} (the .3 of its subnet; the proxy has the .2): made again at ${want}`
    : `sandbox address on ${network} is dynamic (now ${a.address || 'none: stopped'}): an engine restart could give it the proxy's address; made again with the fixed address ${want}`;
  return { code: 'egress_proxy', attribute: 'egress.address', message };
}

/** The .3 of the egress /28 an address lies in; null for no address. */
function sandboxAddressNear(address: string): string | null {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(address)) return null;
  const size = 2 ** (32 - EGRESS_POOL.blockPrefix);
  const base = Math.floor(ipv4ToInt(address) / size) * size;
  return sandboxAddress(`${[24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.')}/${EGRESS_POOL.blockPrefix}`);
}

type Add = (attribute: string, what: string, expected: string) => void;

function listedDrift(project: string, env: string, spec: EnvironmentSpec, live: ListedIsolation, add: Add): void {
  const network = spec.network === 'egress' ? networkName(project, env) : spec.network;
  if (live.networkMode !== network) add('network', `network is ${live.networkMode || 'unknown'}`, network);
  // `docker network disconnect` keeps the network mode and empties the list: no network at all.
  else if (!live.networks.includes(network)) add('network', `disconnected from ${network}`, network);
  const extra = live.networks.filter((n) => n !== network);
  if (extra.length) add('network', `also attached to ${extra.join(', ')}`, `${network} only`);
  const expected: ObservedMount[] = [
    spec.hostWorkspace
      ? { type: 'bind', name: null, source: spec.hostWorkspace, target: WORKSPACE_PATH, readOnly: false }
      : { type: 'volume', name: volumeName(project, env), source: '', target: WORKSPACE_PATH, readOnly: false },
    ...Object.entries(spec.volumes ?? {}).map(([name, path]) => ({ type: 'volume', name: dataVolumeName(project, env, name), source: '', target: path, readOnly: false })),
    ...spec.mounts.map((m) => ({ type: 'bind', name: null, source: m.source, target: m.target, readOnly: m.readOnly })),
  ];
  // Anonymous volumes come from the image's VOLUME lines: a fresh empty volume, no host access.
  const mounts = live.mounts.filter((m) => !(m.type === 'volume' && m.name !== null && /^[0-9a-f]{64}$/.test(m.name)));
  for (const want of expected) {
    const got = mounts.find((m) => samePath(m.target, want.target));
    if (!got) add('mounts', `nothing mounted at ${want.target}`, describeMount(want));
    else if (!sameMount(got, want)) add('mounts', `${want.target} is ${describeMount(got)}`, describeMount(want));
    else if (got.readOnly !== want.readOnly) add('mounts', `${want.target} is ${got.readOnly ? 'read-only' : 'read-write'}`, want.readOnly ? 'read-only' : 'read-write');
  }
  for (const m of mounts) {
    if (expected.some((e) => samePath(e.target, m.target))) continue;
    add('mounts', `${m.type === 'bind' ? 'host path' : m.type} ${describeSource(m)} mounted at ${m.target}`, 'not mounted');
  }
}

function inspectedDrift(spec: EnvironmentSpec, live: InspectedSecurity, add: Add): void {
  if (live.user !== spec.user) add('user', `user is ${live.user || 'the image default'}`, spec.user);
  if (live.privileged !== spec.privileged) add('privileged', `privileged is ${live.privileged}`, String(spec.privileged));
  if (live.runtime !== spec.runtime) add('runtime', `runtime is ${live.runtime}`, spec.runtime);
  if (!spec.privileged) {
    if (live.capAdd.length) add('capabilities', `capabilities added: ${live.capAdd.join(', ')}`, 'none added');
    if (!live.capDrop.some((c) => /^(CAP_)?ALL$/i.test(c))) add('capabilities', `capabilities dropped: ${live.capDrop.join(', ') || 'none'}`, 'ALL dropped');
  }
  const nnp = live.securityOpt.filter((o) => /^no-new-privileges([:=]true)?$/.test(o));
  if (nnp.length === 0) add('security_opt', 'no-new-privileges is off', 'on');
  const other = live.securityOpt.filter((o) => !nnp.includes(o));
  if (other.length) add('security_opt', `security options added: ${other.join(', ')}`, 'no-new-privileges only');
  if (live.pidsLimit === null || live.pidsLimit <= 0) add('resources.pids', 'pids limit removed', 'limited');
}

function sameMount(got: ObservedMount, want: ObservedMount): boolean {
  if (got.type !== want.type) return false;
  return want.type === 'volume' ? got.name === want.name : samePath(got.source, want.source);
}

function describeMount(m: ObservedMount): string {
  return m.type === 'bind' ? `host path ${m.source}` : `${m.type} ${describeSource(m)}`;
}

function describeSource(m: ObservedMount): string {
  return m.type === 'bind' ? m.source : (m.name ?? m.source);
}

function samePath(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  return norm(a) === norm(b);
}

/** The engine shows an image ID instead of the name once the name points elsewhere (handled as image_changed). */
function isImageId(ref: string): boolean {
  return /^(sha256:)?[0-9a-f]{12,64}$/.test(ref);
}

function normalImage(ref: string): string {
  // `REPO:TAG@DIGEST` is the digest alone: Podman shows such a container's image without the tag.
  const bare = engineRef(ref)
    .replace(/^docker\.io\//, '')
    .replace(/^library\//, '');
  return /[:@][^/]*$/.test(bare) ? bare : `${bare}:latest`;
}
