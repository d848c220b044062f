// A real authenticated registry for the registry tests: Debian's docker-registry with htpasswd
// authentication (apache2-utils), on a free port of 127.0.0.1, its storage under `root`. Both
// engines reach it: Docker allows a loopback registry without TLS, and SandboxShift's pulls on
// Podman do the same (README "Podman").
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type Dockerode from 'dockerode';

export interface RegistryServer {
  port: number;
  stop(): void;
}

/** A port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForRegistry(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (r.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port}`);
}

/**
 * Starts the registry with one user; resolves once it asks for credentials. `readOnly` serves
 * the same storage and refuses every push (the registry's maintenance mode), on its own port.
 */
export async function startRegistry(root: string, user: string, password: string, readOnly = false): Promise<RegistryServer> {
  const port = await freePort();
  mkdirSync(join(root, 'data'), { recursive: true });
  execFileSync('htpasswd', ['-Bbc', join(root, 'htpasswd'), user, password], { stdio: 'ignore' });
  const config = join(root, readOnly ? 'config-read-only.yml' : 'config.yml');
  const maintenance = readOnly ? '\n  maintenance:\n    readonly:\n      enabled: true' : '';
  writeFileSync(
    config,
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(root, 'data')}${maintenance}\nhttp:\n  addr: 127.0.0.1:${port}\nauth:\n  htpasswd:\n    realm: sandboxshift-e2e\n    path: ${join(root, 'htpasswd')}\n`,
  );
  const registry = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  try {
    await waitForRegistry(port);
  } catch (err) {
    registry.kill('SIGTERM');
    throw err;
  }
  return { port, stop: () => registry.kill('SIGTERM') };
}

/** A config whose one image is `imageYaml` (its indented keys under `app:`) and one environment runs it. */
export function registryImageConfig(imageYaml: string): string {
  return `
version: 1
project: {{project}}
images:
  app:
${imageYaml}
environments:
  dev: { image: app, command: "sleep 3600", resources: { cpus: 0.25, memory: 32m, pids: 32 } }
`;
}

/** Removes every image the engine has of `repository` (best effort: cleanup). */
export async function removeImagesOf(engine: Dockerode, repository: string): Promise<void> {
  for (const i of await engine.listImages({ filters: { reference: [repository] } }))
    await engine
      .getImage(i.Id)
      .remove({ force: true })
      .catch(() => undefined);
}
