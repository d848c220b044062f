// Plan time: ask each image's registry (through the engine) which digest its reference names
// now, for `pull: always` images and for images the engine lacks, and read the config of each
// image the plan pulls (from the registry, no layer pulled) to check its contract. Every
// failure is a plan error with advice, before anything is applied; credentials appear in none
// of them.
import { imageByRef, parseImageRef, shortDigest } from '../config/image-ref.js';
import { DiagnosticsError, errorDiag, warningDiag, type Diagnostic } from '../diagnostics.js';
import { withEngine, type Docker, type Engine } from '../engine/client.js';
import { engineFlavour } from '../engine/flavour.js';
import { remoteDigest, type RegistryProblem } from '../engine/registry.js';
import { readRemoteConfig, readRemoteDigest, type Platform } from '../engine/registry-config.js';
import { Labels } from '../engine/labels.js';
import { configViolations } from '../plan/contract.js';
import type { ImageChange, Plan } from '../plan/types.js';
import type { DesiredImage } from '../model/images.js';
import type { DesiredState } from '../model/desired.js';
import type { ObservedState, RemoteImage } from '../model/observed.js';
import { readPullAuth, type RegistryAuth } from '../model/pull-auth.js';

/** Whether plan asks the registry about this image. */
export function asksRegistry(image: DesiredImage, observed: ObservedState): boolean {
  if (image.build || !image.pull || image.pull === 'never') return false;
  return image.pull === 'always' || !imageByRef(observed.images, image.ref);
}

/** The credentials for an image, or null when it has no pullSecret; a problem is a positioned error. */
export function pullAuthFor(image: DesiredImage, configFile: string, processEnv: NodeJS.ProcessEnv = process.env): RegistryAuth | null | Diagnostic {
  if (!image.pullSecret) return null;
  const parsed = parseImageRef(image.ref);
  const registry = typeof parsed === 'string' ? '' : parsed.registry;
  const auth = readPullAuth(image.pullSecret, registry, processEnv);
  if ('kind' in auth) return errorDiag(`images.${image.name}.pullSecret: ${auth.message}`, { file: configFile, path: `images.${image.name}.pullSecret`, hint: auth.hint });
  return auth;
}

/** The observed state with the registries' answers; any failure throws every problem at once. */
export async function askRegistries(engine: Engine, desired: DesiredState, observed: ObservedState, configFile: string): Promise<ObservedState> {
  const images = [...desired.images.values()].filter((i) => asksRegistry(i, observed));
  const pushes = [...desired.images.values()].filter((i) => i.build?.push);
  if (images.length === 0 && pushes.length === 0) return observed;
  const docker = await engine.docker();
  const answers = new Map<string, RemoteImage>();
  const problems: Diagnostic[] = [];
  await Promise.all([
    ...pushes.map(async (image) => {
      const answer = await askPushTarget(docker, image, configFile);
      if ('severity' in answer) problems.push(answer);
      else answers.set(image.build!.push!.ref, answer);
    }),
    ...images.map(async (image) => {
      const auth = pullAuthFor(image, configFile);
      if (auth && 'severity' in auth) {
        problems.push(auth);
        return;
      }
      const answer = await digestOf(docker, image.ref, auth);
      if ('digest' in answer) {
        const parsed = parseImageRef(image.ref);
        const wanted = typeof parsed === 'string' ? null : parsed.digest;
        if (wanted && wanted !== answer.digest) {
          problems.push(
            errorDiag(`digest mismatch: images.${image.name}.ref asks for ${shortDigest(wanted)} but the registry serves ${shortDigest(answer.digest)} for it`, {
              file: configFile,
              path: `images.${image.name}.ref`,
              hint: "check the digest you pinned (docker buildx imagetools inspect REF shows the registry's), and pin the one that was reviewed",
            }),
          );
          return;
        }
        answers.set(image.ref, { digest: answer.digest });
        return;
      }
      problems.push(registryError(image, answer, auth !== null, configFile));
    }),
  ]);
  if (problems.length) throw new DiagnosticsError(problems.sort((a, b) => a.message.localeCompare(b.message)));
  return { ...observed, registry: answers };
}

/** Whether a `build.push` target has the content tag already (digest) or not (null); other answers are errors. */
async function askPushTarget(docker: Docker, image: DesiredImage, configFile: string): Promise<RemoteImage | Diagnostic> {
  const push = image.build!.push!;
  const parsed = parseImageRef(push.ref);
  const registry = typeof parsed === 'string' ? push.ref : parsed.registry;
  const path = `images.${image.name}.build.push`;
  let auth: RegistryAuth | null = null;
  if (push.secret) {
    const read = readPullAuth(push.secret, registry, process.env);
    if ('kind' in read) return errorDiag(`images.${image.name}.build.pushSecret: ${read.message}`, { file: configFile, path: `images.${image.name}.build.pushSecret`, hint: read.hint });
    auth = read;
  }
  const answer = await digestOf(docker, push.ref, auth);
  if ('digest' in answer) return { digest: answer.digest };
  if (answer.kind === 'missing') return { digest: null };
  if (answer.kind === 'unauthorized') {
    return errorDiag(`registry ${registry} refused the credentials for pushing images.${image.name} (${push.ref}): unauthorized`, {
      file: configFile,
      path: push.secret ? `images.${image.name}.build.pushSecret` : path,
      hint: push.secret ? "the pushSecret's user or password is wrong; update the secret it names" : 'add build.pushSecret: { username: { fromEnv: ... }, password: { fromEnv: ... } }',
    });
  }
  return errorDiag(`registry ${registry} is ${answer.kind === 'unreachable' ? 'unreachable' : 'failing'} for pushing images.${image.name} (${push.ref}): ${answer.detail}`, {
    file: configFile,
    path,
    hint: `check that the registry is up and that the engine's host can reach ${registry}`,
  });
}

/**
 * The digest `ref` names on its registry now: through the engine (GET /distribution/NAME/json),
 * or, on Podman, whose API has no such call (it answers 404 Not Found without asking anyone),
 * from the registry itself, as the image's config is read at plan time.
 */
async function digestOf(docker: Docker, ref: string, auth: RegistryAuth | null): Promise<{ digest: string } | RegistryProblem> {
  if ((await withEngine(() => engineFlavour(docker))) === 'podman') {
    const parsed = parseImageRef(ref);
    if (typeof parsed === 'string') return { kind: 'error', detail: parsed };
    return readRemoteDigest(parsed, auth);
  }
  return withEngine(() => remoteDigest(docker, ref, auth));
}

function registryError(image: DesiredImage, p: RegistryProblem, withSecret: boolean, file: string): Diagnostic {
  const parsed = parseImageRef(image.ref);
  const registry = typeof parsed === 'string' ? image.ref : parsed.registry;
  const at = { file, path: `images.${image.name}.ref` };
  const local = image.pull === 'always' ? '; or set pull: if-not-present to use the copy the engine has' : '';
  switch (p.kind) {
    case 'unreachable':
      return errorDiag(`registry ${registry} is unreachable for images.${image.name} (${image.ref}): ${p.detail}`, {
        ...at,
        hint: `check that the registry is up and that the engine's host can reach ${registry}${local}`,
      });
    case 'unauthorized':
      return errorDiag(`registry ${registry} refused the credentials for images.${image.name} (${image.ref}): unauthorized`, {
        ...at,
        path: withSecret ? `images.${image.name}.pullSecret` : at.path,
        hint: withSecret
          ? `the pullSecret's user or password is wrong, or lacks pull access to ${parsed && typeof parsed !== 'string' ? parsed.repository : image.ref}; update the secret it names`
          : `add pullSecret: { username: { fromEnv: REGISTRY_USER }, password: { fromEnv: REGISTRY_PASSWORD } } (or dockerConfig: { fromFile: ~/.docker/config.json })`,
      });
    case 'missing':
      return errorDiag(
        typeof parsed !== 'string' && parsed.digest
          ? `digest mismatch: registry ${registry} has no manifest ${shortDigest(parsed.digest)} for images.${image.name} (${image.ref})`
          : `tag missing: registry ${registry} has no ${image.ref} (images.${image.name})`,
        { ...at, hint: 'check the repository, tag and digest (push the image first, or fix the reference)' },
      );
    case 'error':
      return errorDiag(`registry ${registry} could not resolve images.${image.name} (${image.ref}): ${p.detail}`, { ...at, hint: `check the registry's health and the reference${local}` });
  }
}

/**
 * The image contract of each image the plan pulls, from its config on the registry (USER and
 * contract label; the shell and /workspace are checked after the pull, at verify-image). A
 * config that cannot be read from here is a warning: the engine, which resolved the digest,
 * may reach the registry where this process cannot.
 */
export async function checkPulledContracts(engine: Engine, desired: DesiredState, plan: Plan, configFile: string): Promise<Diagnostic[]> {
  const pulls = plan.changes.filter((c): c is ImageChange => c.type === 'image' && c.steps.includes('pull-image'));
  if (pulls.length === 0) return [];
  let platform: Promise<Platform> | undefined;
  const enginePlatform = () => (platform ??= withEngine(() => engine.reader.version()).then((v) => ({ os: v.Os ?? 'linux', architecture: v.Arch ?? 'amd64' })));
  const out = await Promise.all(
    pulls.map(async (c) => {
      const image = desired.images.get(c.name);
      const parsed = parseImageRef(c.imageRef);
      if (!image || !c.digest || typeof parsed === 'string') return [];
      const auth = pullAuthFor(image, configFile);
      if (auth && 'severity' in auth) return [auth];
      const at = { file: configFile, path: `images.${image.name}.ref` };
      const config = await readRemoteConfig(parsed, c.digest, auth, enginePlatform);
      if ('kind' in config) {
        return config.kind === 'mismatch'
          ? [
              errorDiag(`digest mismatch: registry ${parsed.registry} for images.${image.name} (${image.ref}): ${config.detail}`, {
                ...at,
                hint: 'the registry serves content that is not what it names; check the registry (its storage may be damaged)',
              }),
            ]
          : [warningDiag(`the config of ${image.ref} could not be read from registry ${parsed.registry} here (${config.detail}); its image contract is checked after the pull, at verify-image`, at)];
      }
      const users = [...desired.environments.values()].filter((d) => d.imageName === image.name).map((d) => d.name);
      const where = `image '${image.name}', on registry ${parsed.registry} at ${shortDigest(c.digest)}${users.length ? `, wanted by ${users.join(', ')}` : ''}`;
      return configViolations({ ref: image.ref, user: config.user, contract: config.labels[Labels.contract] ?? null })
        .filter((v) => v !== undefined)
        .map((v) =>
          v.rule === 'contract-version' && c.verify.allowContractMismatch
            ? warningDiag(`${v.message}; accepted by allowContractMismatch for ${users.join(', ')}`, at)
            : errorDiag(`image contract: ${v.message} (${where})`, { ...at, hint: `${v.fix}, push it again and point ref at it; nothing was pulled` }),
        );
    }),
  );
  return out.flat();
}
