// Desired images: referenced ones the engine must have, and built ones whose tag carries the
// hash of their build context, so "is a rebuild due?" is "does the engine have this tag?".
import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config, ImageConfig, PullPolicy, PullSecretConfig } from '../config/types.js';
import { digestBuildContext, type BuildContextDigest } from './build-context.js';

export interface ImageBuild {
  context: string;
  dockerfile: string;
  args: Record<string, string>;
  digest: BuildContextDigest;
  /** Repository part of the tag, shared by every build of this image. */
  repo: string;
  /** Where it is pushed after building: `PUSH:ctx-HASH` (the same content tag). */
  push?: { ref: string; secret?: PullSecretConfig };
}

export interface DesiredImage {
  address: string;
  name: string;
  /** The tag environments run. */
  ref: string;
  build: ImageBuild | null;
  /** True for the runtime images SandboxShift ships (used by `image: auto`). */
  builtin: boolean;
  /** For `ref:` images: when to ask the registry (built images: never). */
  pull?: PullPolicy;
  /** For `ref:` images: where the registry credentials are read from (never their values). */
  pullSecret?: PullSecretConfig;
}

/**
 * The images SandboxShift ships in images/ (config/shipped-images.ts names them), used by
 * `image: NAME` and `image: auto` unless the config defines the name. pi's build context is
 * images/agent-pi/stage/, assembled on the host by images/agent-pi/stage.sh (npm).
 */
const IMAGES_DIR = fileURLToPath(new URL('../../images/', import.meta.url));
export const BUILTIN_IMAGES: Record<string, ImageConfig> = {
  python: { name: 'python', build: { context: IMAGES_DIR, dockerfile: 'runtime-python/Dockerfile', args: {} } },
  node: { name: 'node', build: { context: IMAGES_DIR, dockerfile: 'runtime-node/Dockerfile', args: {} } },
  multi: { name: 'multi', build: { context: IMAGES_DIR, dockerfile: 'runtime-multi/Dockerfile', args: {} } },
  pi: { name: 'pi', build: { context: `${IMAGES_DIR}agent-pi/stage/`, dockerfile: 'Dockerfile', args: {} } },
};
export const PI_STAGE_HINT = 'stage the pi image first: make -C images stage-pi (runs images/agent-pi/stage.sh, which needs npm and its registry)';

/** The egress proxy's image: the proxy in Go (images/egress-proxy), compiled inside its own build. */
export const EGRESS_IMAGE = 'sandboxshift-egress';
// A committed folder of Go sources, so its hash (the image's tag) is the same from src/ (tests) and
// dist/, and needs no build on the host; its .dockerignore leaves the Go tests out of the hash.
const EGRESS_CONTEXT = `${IMAGES_DIR}egress-proxy/`;
BUILTIN_IMAGES[EGRESS_IMAGE] = { name: EGRESS_IMAGE, build: { context: EGRESS_CONTEXT, dockerfile: 'Dockerfile', args: {} } };

export function imageAddress(name: string): string {
  return `image.${name}`;
}

export function builtImageRepo(project: string, name: string): string {
  return `sandboxshift/${project}-${name}`;
}

/**
 * The digest of a context that was not read (`desiredImage(..., { readContext: false })`): for
 * commands that build nothing and need no tag (destroy, status, logs, unlock, wake, touch,
 * egress, validate's policy check). Such an image's ref is its repository alone.
 */
const UNREAD: BuildContextDigest = { hash: '', files: {} };

/** Whether a built image's context was read (false: its ref has no ctx- tag and nothing may build it). */
export function contextRead(build: ImageBuild): boolean {
  return build.digest !== UNREAD;
}

export function desiredImage(config: Config, image: ImageConfig, builtin = false, options: { readContext?: boolean } = {}): DesiredImage {
  if (image.ref) {
    return {
      address: imageAddress(image.name),
      name: image.name,
      ref: image.ref,
      build: null,
      builtin,
      pull: image.pull ?? 'if-not-present',
      ...(image.pullSecret ? { pullSecret: image.pullSecret } : {}),
    };
  }
  const b = image.build;
  if (!b) throw new Error(`internal: image ${image.name} has neither ref nor build`);
  const read = options.readContext !== false;
  const digest = read ? digestBuildContext(b.context, b.dockerfile, b.args) : UNREAD;
  // Shipped images are shared by every project on the engine: one build, one tag.
  const repo = builtin ? `sandboxshift/builtin-${image.name}` : builtImageRepo(config.project, image.name);
  return {
    address: imageAddress(image.name),
    name: image.name,
    ref: read ? `${repo}:ctx-${digest.hash.slice(0, 12)}` : repo,
    build: {
      context: b.context,
      dockerfile: b.dockerfile,
      args: { ...b.args },
      digest,
      repo,
      ...(b.push && read ? { push: { ref: `${b.push}:ctx-${digest.hash.slice(0, 12)}`, ...(b.pushSecret ? { secret: b.pushSecret } : {}) } } : {}),
    },
    builtin,
  };
}

/** Why a build context cannot be read, or null when it can (its files are checked as they are hashed). */
export function buildContextProblem(image: ImageConfig): string | null {
  const b = image.build;
  if (!b) return null;
  const context = kindOf(b.context);
  if (!context) return `build context ${b.context} does not exist`;
  if (context !== 'dir') return `build context ${b.context} is not a folder`;
  // The engine reads the Dockerfile from the context it is sent, so it must be in it.
  const rel = relative(b.context, resolve(b.context, b.dockerfile));
  if (rel === '..' || rel.startsWith('../') || isAbsolute(rel)) {
    return `Dockerfile ${b.dockerfile} is outside the build context ${b.context}: the engine reads the Dockerfile from inside the context it is sent`;
  }
  if (isAbsolute(b.dockerfile)) return `Dockerfile ${b.dockerfile} is an absolute path: write it relative to the build context (${rel || '.'})`;
  const kind = kindOf(resolve(b.context, b.dockerfile));
  if (!kind) return `Dockerfile ${b.dockerfile} not found in ${b.context}`;
  if (kind !== 'file') return `Dockerfile ${b.dockerfile} in ${b.context} is ${kind === 'dir' ? 'a folder' : 'not a regular file'}`;
  return null;
}

function kindOf(path: string): 'file' | 'dir' | 'other' | null {
  try {
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return null;
  }
}
