// Settings that weaken the sandbox are refused unless the environment opts in by name under
// `allowDangerous`. Checked on the merged settings, so a dangerous default needs the opt-in in
// every environment that inherits it; the error points at the line that set it.

import { existsSync, realpathSync } from 'node:fs';
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import type { Diagnostic } from '../diagnostics.js';
import { resolveHostPath } from './build-config.js';
import { gitRedirect, localGitPath } from './git-url.js';
import { isPlainObject } from './describe.js';
import type { KeyPath } from './key-path.js';
import { parseUser, settingSource } from './raw-config.js';
import type { DangerousSetting } from './types.js';
import { diagnosticAt, type ConfigSource } from './yaml-source.js';

export function checkDangerousSettings(data: unknown, source: ConfigSource): Diagnostic[] {
  const root = isPlainObject(data) ? data : {};
  const environments = isPlainObject(root.environments) ? Object.keys(root.environments) : [];
  return environments.flatMap((name) => checkEnvironment(data, name, source));
}

/** Where a host path really is: symlinks followed as far as the path exists. */
export function realHostPath(path: string): string {
  let head = path;
  const tail: string[] = [];
  for (;;) {
    if (existsSync(head)) return resolve(realpathSync(head), ...tail.reverse());
    const parent = dirname(head);
    if (parent === head) return path;
    tail.push(head.slice(parent.length).replace(/^\//, ''));
    head = parent;
  }
}

/** Whether `path` (already real) lies in `dir` or below it. */
function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Whether a mount exposes the Docker engine's API socket (full control of the host). */
export function isDockerSocket(path: string): boolean {
  return path.replace(/\/+$/, '').endsWith('docker.sock');
}

/**
 * The engine's unix sockets on this host, real paths: Docker's default and DOCKER_HOST's. A
 * folder that holds one exposes it when mounted, as mounting the socket itself does.
 */
function engineSockets(): string[] {
  const paths = ['/var/run/docker.sock'];
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith('unix://')) paths.push(host.slice('unix://'.length));
  return [...new Set(paths.filter((p) => existsSync(p)).map((p) => realpathSync(p)))];
}

/** The engine socket a host folder holds (at any depth), if any. */
function heldEngineSocket(path: string, dir: string): string | undefined {
  const real = realHostPath(resolveHostPath(path, dir));
  return engineSockets().find((socket) => isInside(socket, real));
}

function checkEnvironment(data: unknown, name: string, source: ConfigSource): Diagnostic[] {
  const allowed = settingSource(data, name, 'allowDangerous')?.value;
  const optedIn = (setting: DangerousSetting) => Array.isArray(allowed) && allowed.includes(setting);
  const found: Diagnostic[] = [];
  const refuse = (setting: DangerousSetting, path: KeyPath, what: string, why: string) => {
    if (optedIn(setting)) return;
    const inherited = path[0] === 'defaults' ? ' (set in defaults)' : '';
    found.push(
      diagnosticAt(
        source,
        'error',
        path,
        'value',
        `${what} is refused for environment '${name}'${inherited}: ${why}`,
        `add allowDangerous: [${setting}] to environment '${name}' if you really mean it`,
      ),
    );
  };

  const privileged = settingSource(data, name, 'privileged');
  if (privileged?.value === true) {
    refuse('privileged', privileged.path, 'privileged: true', 'a privileged container can take over the host');
  }
  const hostNetwork = settingSource(data, name, 'hostNetwork');
  if (hostNetwork?.value === true) {
    refuse('host-network', hostNetwork.path, 'hostNetwork: true', "it shares the host's network and bypasses the egress rules");
  }
  const user = settingSource(data, name, 'user');
  if (user && parseUser(user.value)?.uid === 0) {
    refuse('root-user', user.path, 'running as root (uid 0)', 'root inside the container makes any escape a root escape');
  }
  // Seeding copies host files into the sandbox: from the config's own folder only, unless opted in.
  const workspace = settingSource(data, name, 'workspace');
  if (workspace && isPlainObject(workspace.value)) {
    const configDir = realHostPath(dirname(resolve(source.file)));
    const seeds: Array<[KeyPath, string]> = [];
    const { from, git, hostPath } = workspace.value;
    if (typeof hostPath === 'string' && hostPath !== '') {
      refuse('host-mounts', [...workspace.path, 'hostPath'], `using host folder '${hostPath}' as /workspace`, 'the sandbox reads and writes host files there');
      const socket = heldEngineSocket(hostPath, dirname(resolve(source.file)));
      if (socket)
        refuse(
          'docker-socket',
          [...workspace.path, 'hostPath'],
          `using host folder '${hostPath}' as /workspace`,
          `it holds the Docker engine's socket ${socket}, which gives the sandbox control of the engine, and so of the host`,
        );
    }
    if (typeof from === 'string' && from !== '') seeds.push([[...workspace.path, 'from'], from]);
    if (isPlainObject(git) && typeof git.url === 'string') {
      const local = localGitPath(git.url);
      if (local) seeds.push([[...workspace.path, 'git', 'url'], local]);
    }
    for (const [path, given] of seeds) {
      const real = realHostPath(resolveHostPath(given, dirname(resolve(source.file))));
      if (!isInside(real, configDir)) {
        refuse('host-mounts', path, `seeding /workspace from '${given}' (${real}), outside the config's folder ${configDir}`, 'it copies host files the sandbox should not see into it');
        continue;
      }
      const redirect = path.includes('git') ? gitRedirect(real) : null;
      if (redirect) refuse('host-mounts', path, `seeding /workspace from the git repository '${given}'`, `${redirect}, so files from outside the config's folder would be copied in`);
    }
  }
  const mounts = settingSource(data, name, 'mounts');
  if (mounts && Array.isArray(mounts.value)) {
    mounts.value.forEach((mount: unknown, i) => {
      if (!isPlainObject(mount)) return;
      const { source: from, target } = mount;
      const mountPath = [...mounts.path, i];
      const socketKey = (
        [
          ['source', from],
          ['target', target],
        ] as const
      ).find(([, p]) => typeof p === 'string' && isDockerSocket(p))?.[0];
      if (socketKey !== undefined) {
        refuse('docker-socket', [...mountPath, String(socketKey)], 'mounting the Docker socket', 'it gives the sandbox control of the Docker engine, and so of the host');
      } else if (typeof from === 'string') {
        refuse('host-mounts', [...mountPath, 'source'], `mounting host path '${from}'`, 'it exposes host files to the sandbox');
        const socket = heldEngineSocket(from, dirname(resolve(source.file)));
        if (socket)
          refuse(
            'docker-socket',
            [...mountPath, 'source'],
            `mounting host path '${from}'`,
            `it holds the Docker engine's socket ${socket}, which gives the sandbox control of the engine, and so of the host`,
          );
      }
    });
  }
  return found;
}
