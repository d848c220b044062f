// Engine operations for egress: the project's outside network, an environment's internal
// network, and its proxy container (fixed address, policy file copied in, then started).
import { pack } from 'tar-stream';
import type { EgressPlan } from '../model/egress.js';
import { PROXY_POLICY_PATH, PROXY_PORT } from '../model/names.js';
import { IPV6_OFF_SYSCTLS, PODMAN_ISOLATING_BACKEND, gatewayIsolationOf, gatewayIsolationOptions, needsIpv6Off, type GatewayIsolation, type ListedNetwork } from '../model/egress.js';
import { VERSION } from '../version.js';
import { statusCode, type Docker } from './client.js';
import { unlessMissing } from './records.js';
import { Labels } from './labels.js';
import { engineFlavour } from './flavour.js';
import { DiagnosticsError, errorDiag } from '../diagnostics.js';
import { reloadProxyPolicy, removePolicyRecords } from './egress-policy.js';
import { libpodGet, type PodmanInfo } from './reader.js';

const PROXY_UID = 65532;

/**
 * Podman gives the host an address on every bridge network, internal ones too, unless it runs
 * with the CNI backend (an internal network is a CNI bridge without gateway there; see
 * GatewayIsolation). With netavark egress is refused before anything is made, and a saved plan
 * made for the other kind of engine is refused too: its mechanism would not hold here.
 */
async function refuseEgressWithoutIsolation(docker: Docker, isolation?: GatewayIsolation): Promise<void> {
  const podman = (await engineFlavour(docker)) === 'podman';
  if (podman) {
    const backend = (await libpodGet<PodmanInfo>(docker, '/info')).host?.networkBackend;
    if (backend !== PODMAN_ISOLATING_BACKEND) {
      throw new DiagnosticsError([
        errorDiag(
          `egress is not available on Podman with the ${backend ?? 'unknown'} network backend: it gives the host an address on every network, internal ones too, so the sandbox could reach host services past its proxy`,
          {
            hint: 'set `network_backend = "cni"` under [network] in /etc/containers/containers.conf and restart the Podman service (`sudo scripts/setup-podman.sh` does both), or use a Docker engine; see README "Podman"',
          },
        ),
      ]);
    }
  }
  if (isolation !== undefined && (isolation === 'cni-no-gateway') !== podman) {
    throw new DiagnosticsError([
      errorDiag(`this plan isolates egress networks with ${isolation}, which the engine here (${podman ? 'Podman' : 'Docker'}) does not have`, {
        hint: 'the plan was made against another engine: run plan again against this one',
      }),
    ]);
  }
}

export async function createOutsideNetwork(docker: Docker, project: string, name: string): Promise<void> {
  await refuseEgressWithoutIsolation(docker);
  try {
    await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { [Labels.project]: project, [Labels.role]: 'egress', [Labels.version]: VERSION } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    // It exists: join it only if it is ours; proxies never join a network someone else made.
    const labels = (await docker.getNetwork(name).inspect()).Labels ?? {};
    notOurs(labels, project, 'egress', `network ${name}`);
  }
}

/**
 * Removes the project's outside network: only networks of that name with our project and role
 * labels (by ID: names need not be unique), so a look-alike someone else made is left alone.
 */
export async function removeOutsideNetwork(docker: Docker, project: string, name: string): Promise<void> {
  const found = await docker.listNetworks({ filters: { name: [name], label: [`${Labels.project}=${project}`, `${Labels.role}=egress`] } });
  // The name filter matches substrings.
  for (const n of found) if (n.Name === name) await unlessMissing(docker.getNetwork(n.Id).remove());
}

/** Refuses to touch an engine object that does not carry our project and role labels. */
function notOurs(labels: Record<string, string>, project: string, role: string, what: string): void {
  if (labels[Labels.project] === project && labels[Labels.role] === role) return;
  throw new Error(`${what} exists but was not created by sandboxshift for project ${project}; it is left alone: rename or remove it yourself, then apply again`);
}

export async function createEnvironmentNetwork(docker: Docker, project: string, env: string, e: EgressPlan): Promise<void> {
  await refuseEgressWithoutIsolation(docker, e.gatewayIsolation);
  const network = await docker.createNetwork({
    Name: e.network,
    Driver: 'bridge',
    // No route out: the proxy is the only way anything leaves.
    Internal: true,
    CheckDuplicate: true,
    // No host address on the bridge: the sandbox reaches its proxy and nothing of the host.
    Options: gatewayIsolationOptions(e.gatewayIsolation),
    IPAM: { Driver: 'default', Config: [{ Subnet: e.subnet }] },
    Labels: { [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'network', [Labels.version]: VERSION },
  });
  // Podman has no option to ask for it: check that the network came out without a host address.
  if (e.gatewayIsolation === 'cni-no-gateway') {
    const made = (await network.inspect()) as ListedNetwork;
    if (gatewayIsolationOf(made, 'podman') === null) {
      await unlessMissing(network.remove());
      const gateways = (made.IPAM?.Config ?? []).map((c) => c.Gateway).join(', ');
      throw new Error(
        `network ${e.network} came out with a host address (gateway ${gateways || 'unknown'}, internal ${made.Internal === true}): removed again; is Podman still on the CNI network backend?`,
      );
    }
  }
}

export async function createProxy(docker: Docker, project: string, env: string, e: EgressPlan): Promise<string> {
  // Records of a proxy removed outside sandboxshift: none can be about the one made now.
  await removePolicyRecords(docker, project, env);
  const container = await docker.createContainer({
    name: e.proxyName,
    Image: e.proxyImage,
    User: `${PROXY_UID}:${PROXY_UID}`,
    // Listen on the sandbox side only: on the outside network it must not be an open proxy.
    Env: [`SANDBOXSHIFT_EGRESS_POLICY=${PROXY_POLICY_PATH}`, `SANDBOXSHIFT_EGRESS_PORT=${PROXY_PORT}`, `SANDBOXSHIFT_EGRESS_HOST=${e.proxyAddress}`],
    Labels: {
      [Labels.project]: project,
      [Labels.environment]: env,
      [Labels.role]: 'egress',
      [Labels.egressAllow]: JSON.stringify(e.allow),
      [Labels.version]: VERSION,
      ...(needsIpv6Off(e.gatewayIsolation) ? { [Labels.ipv6]: 'off' } : {}),
    },
    HostConfig: {
      NetworkMode: e.network,
      ...(needsIpv6Off(e.gatewayIsolation) ? { Sysctls: { ...IPV6_OFF_SYSCTLS } } : {}),
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      // Not read-only: the engine refuses to copy the policy file into a read-only rootfs.
      Memory: 128 * 1024 * 1024,
      PidsLimit: 128,
      RestartPolicy: { Name: 'unless-stopped' },
    },
    NetworkingConfig: { EndpointsConfig: { [e.network]: { IPAMConfig: { IPv4Address: e.proxyAddress } } } },
  });
  await container.putArchive(await policyArchive(e.allow), { path: '/' });
  await docker.getNetwork(e.outsideNetwork).connect({ Container: container.id });
  await container.start();
  await waitUntilListening(docker, container.id);
  return container.id;
}

/** Apply is done only when the way out works: wait for the proxy's "listening" line. */
async function waitUntilListening(docker: Docker, id: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logs = (await docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false })).toString('utf8');
    if (logs.includes('"event":"listening"')) return;
    const fatal = /\{[^\n]*"event":"fatal"[^\n]*\}/.exec(logs)?.[0];
    if (fatal) throw new Error(`egress proxy failed to start: ${fatal}`);
    if (Date.now() > deadline) throw new Error(`egress proxy did not start listening within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Reloads a running proxy's allow list in place (policy file + SIGHUP), so the connections the
 * new list still allows keep going; see egress-policy.ts for the records and their order.
 */
export async function reloadProxy(docker: Docker, project: string, env: string, e: EgressPlan): Promise<void> {
  await reloadProxyPolicy(docker, { project, environment: env, proxyName: e.proxyName, allow: e.allow, archive: await policyArchive(e.allow) });
}

/** Removes an environment's egress proxy by name, only if it is ours, then its policy records. */
export async function removeProxy(docker: Docker, project: string, env: string, name: string): Promise<void> {
  const info = await unlessMissing(docker.getContainer(name).inspect());
  if (info) {
    notOurs(info.Config.Labels ?? {}, project, 'egress', `container ${name}`);
    await unlessMissing(docker.getContainer(info.Id).remove({ force: true }));
  }
  // After the proxy: records left by a kill in between name a proxy that is gone (stale, ignored).
  await removePolicyRecords(docker, project, env);
}

/** Removes an environment's internal network by name, only if it is ours (by id: names need not be unique). */
export async function removeNetwork(docker: Docker, project: string, name: string): Promise<void> {
  const info = (await unlessMissing(docker.getNetwork(name).inspect())) as { Id: string; Labels?: Record<string, string> } | null;
  if (!info) return;
  notOurs(info.Labels ?? {}, project, 'network', `network ${name}`);
  await unlessMissing(docker.getNetwork(info.Id).remove());
}

async function policyArchive(allow: readonly string[]): Promise<Buffer> {
  const p = pack();
  const body = Buffer.from(`${JSON.stringify({ allow }, null, 2)}\n`);
  const dir = PROXY_POLICY_PATH.replace(/^\//, '').replace(/\/[^/]+$/, '');
  p.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
  p.entry({ name: PROXY_POLICY_PATH.replace(/^\//, ''), mode: 0o444, uid: 0, gid: 0, size: body.length }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}
