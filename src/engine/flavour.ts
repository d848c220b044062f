// Which engine answers the Docker API: Docker itself, or Podman's Docker-compatible service
// (`podman system service`). Told from the version endpoint (Podman names a component "Podman
// Engine"), never guessed from DOCKER_HOST. Only the few places where Podman behaves
// differently ask (README "Podman" lists them).
import type Docker from 'dockerode';

export type EngineFlavour = 'docker' | 'podman';

export interface VersionAnswer {
  Components?: Array<{ Name?: string }> | null;
  /** The engine's platform, in Go's words (linux, amd64). */
  Os?: string;
  Arch?: string;
}

export function flavourOf(version: VersionAnswer): EngineFlavour {
  return (version.Components ?? []).some((c) => c?.Name === 'Podman Engine') ? 'podman' : 'docker';
}

const known = new WeakMap<Docker, Promise<EngineFlavour>>();

/** The engine's flavour, asked once per client. */
export function engineFlavour(docker: Docker): Promise<EngineFlavour> {
  let answer = known.get(docker);
  if (!answer) {
    answer = docker.version().then((v) => flavourOf(v as VersionAnswer));
    // A failed ask is not remembered: the next call asks again.
    answer.catch(() => known.delete(docker));
    known.set(docker, answer);
  }
  return answer;
}

/**
 * Podman names images by their registry: `podman load` of `sandboxshift/busybox:test` makes
 * `localhost/sandboxshift/busybox:test`, an import or pull of a short name makes
 * `docker.io/...`. Its Docker API still resolves the short name a config uses, so an image is
 * also known by the name Docker would show: `docker.io/library/` or `docker.io/` dropped, and
 * `localhost/` dropped unless a docker.io image has that short name (the API resolves a short
 * name to docker.io first). Returns [short name, full tag] pairs.
 */
export function podmanShortNames(tags: readonly string[]): Array<[string, string]> {
  const out = new Map<string, string>();
  for (const tag of tags) {
    const prefix = ['docker.io/library/', 'docker.io/'].find((p) => tag.startsWith(p));
    if (prefix) out.set(tag.slice(prefix.length), tag);
  }
  for (const tag of tags) {
    const short = tag.startsWith('localhost/') ? tag.slice('localhost/'.length) : null;
    if (short && !out.has(short)) out.set(short, tag);
  }
  return [...out];
}
