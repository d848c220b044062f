// What the engine has for one environment's egress: how its container is networked, its proxy
// (state, address, the allow list it was created with and what its policy records say it
// enforces since), its live figures and last log lines. Two inspects, a records list, one
// archive read and one logs call: `sandboxshift egress ENV` looks at one environment only.
import type Docker from 'dockerode';
import { containerName, networkName, proxyName, PROXY_PORT } from '../model/names.js';
import { gatewayIsolationOf, type GatewayIsolation } from '../model/egress.js';
import { engineFlavour } from './flavour.js';
import { podmanNetworkMode } from './podman-facts.js';
import { statusCode, withEngine, type Engine } from './client.js';
import { demuxedLogs } from './log-stream.js';
import { Labels } from './labels.js';
import { parseAllowLabel, recordedPolicy } from './egress-policy.js';
import { readProxyStats, type ProxyStatsRead } from './proxy-stats.js';
import { claimedAllow, policyDrift } from './proxy-policy-check.js';
import { findRecords } from './records.js';
import type { RecordedPolicy } from '../model/observed.js';

export interface EnvironmentNetworkFacts {
  name: string;
  state: string;
  /** HostConfig.NetworkMode: `none`, `host`, or the network's name. */
  networkMode: string;
  /** The HTTP_PROXY the sandbox's processes see, when it has one (no other variable is read). */
  httpProxy: string | null;
  /** Whether the network it is on is an `internal` one (no route out); null when not looked at. */
  internalNetwork: boolean | null;
  /** The host has no address on the network (see GatewayIsolation); null without a named network. */
  gatewayIsolated: boolean | null;
  /** How, when it is. */
  gatewayIsolation?: GatewayIsolation;
}

export interface ProxyFacts {
  name: string;
  state: string;
  running: boolean;
  /** Its address on the environment's network, and the port it listens on there. */
  address: string | null;
  port: number;
  /** The allow-list label; null when missing or unreadable. */
  allow: string[] | null;
  /** What its egress-policy records say it enforces since a reload in place; null without records (the label holds). */
  recorded?: RecordedPolicy | null;
  /** Its live figures (stats file), or why there are none. */
  live?: ProxyStatsRead;
  /** The policy hash the proxy itself reports when it is not the one its label or records say (a hand edit). */
  reportedHash?: string;
}

export interface EgressFacts {
  environment: EnvironmentNetworkFacts | null;
  proxy: ProxyFacts | null;
  /** The proxy's last log lines (stdout and stderr in order); null without a proxy. */
  proxyLog: string | null;
}

export async function readEgressFacts(engine: Engine, project: string, env: string, tail: number): Promise<EgressFacts> {
  const docker = await engine.docker();
  return withEngine(async () => {
    const envInfo = await inspectOurs(docker, containerName(project, env), project, 'environment');
    const proxyInfo = await inspectOurs(docker, proxyName(project, env), project, 'egress');
    const podman = (await engineFlavour(docker)) === 'podman';
    const networkMode = envInfo ? (podman ? podmanNetworkMode(envInfo) : (envInfo.HostConfig.NetworkMode ?? '')) : '';
    const environment: EnvironmentNetworkFacts | null = envInfo
      ? {
          name: envInfo.Name.replace(/^\//, ''),
          state: envInfo.State.Status,
          networkMode,
          httpProxy: (envInfo.Config.Env ?? []).find((e) => e.startsWith('HTTP_PROXY='))?.slice('HTTP_PROXY='.length) ?? null,
          ...(await namedNetworkFacts(docker, networkMode)),
        }
      : null;
    const proxy: ProxyFacts | null = proxyInfo
      ? {
          name: proxyInfo.Name.replace(/^\//, ''),
          state: proxyInfo.State.Status,
          running: proxyInfo.State.Running,
          address: proxyInfo.NetworkSettings.Networks?.[networkName(project, env)]?.IPAddress || null,
          port: PROXY_PORT,
          allow: parseAllowLabel(proxyInfo.Config.Labels?.[Labels.egressAllow]),
          recorded: recordedPolicy(
            (await findRecords(docker, { [Labels.project]: project, [Labels.environment]: env, [Labels.role]: 'egress-policy' }))
              .map((r) => r.labels)
              .filter((labels) => labels[Labels.egressProxyId] === proxyInfo.Id),
          ),
          live: proxyInfo.State.Running
            ? await readProxyStats(docker, proxyInfo.Id)
            : { stats: null, note: `no live figures: egress proxy ${proxyInfo.Name.replace(/^\//, '')} is ${proxyInfo.State.Status}` },
        }
      : null;
    if (proxy?.running && proxy.live?.stats) {
      const claimed = claimedAllow(proxy);
      const reported = claimed ? await policyDrift(docker, proxyInfo!.Id, claimed, proxy.live) : null;
      if (reported) proxy.reportedHash = reported;
    }
    const proxyLog = proxyInfo ? await demuxedLogs(docker, await docker.getContainer(proxyInfo.Id).logs({ stdout: true, stderr: true, follow: false, tail })) : null;
    return { environment, proxy, proxyLog };
  });
}

async function inspectOurs(docker: Docker, name: string, project: string, role: string): Promise<Docker.ContainerInspectInfo | null> {
  try {
    const info = await docker.getContainer(name).inspect();
    const labels = info.Config.Labels ?? {};
    // A container of that name made by someone else is not this environment's.
    return labels[Labels.project] === project && labels[Labels.role] === role ? info : null;
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

function isNamedNetwork(mode: string): boolean {
  return mode !== '' && mode !== 'none' && mode !== 'host' && mode !== 'default' && mode !== 'bridge' && !mode.startsWith('container:');
}

async function networkFacts(docker: Docker, name: string): Promise<{ internal: boolean; isolation: GatewayIsolation | null } | null> {
  try {
    const info = await docker.getNetwork(name).inspect();
    return { internal: info.Internal === true, isolation: gatewayIsolationOf(info, await engineFlavour(docker)) };
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

async function namedNetworkFacts(docker: Docker, networkMode: string): Promise<{ internalNetwork: boolean | null; gatewayIsolated: boolean | null; gatewayIsolation?: GatewayIsolation }> {
  const facts = isNamedNetwork(networkMode) ? await networkFacts(docker, networkMode) : null;
  const isolation = facts?.isolation ?? null;
  return { internalNetwork: facts?.internal ?? null, gatewayIsolated: facts ? isolation !== null : null, ...(isolation ? { gatewayIsolation: isolation } : {}) };
}
