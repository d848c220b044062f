// The image contract: what an image must offer before an environment is created on it.
// Pure rules over facts the engine reported (engine/image-probe.ts gathers them).

import type { ImageFacts } from '../model/image-facts.js';

export const CONTRACT_VERSION = '1';

export type { ImageFacts } from '../model/image-facts.js';

export interface Violation {
  rule: 'non-root' | 'shell' | 'workspace' | 'contract-version';
  message: string;
  fix: string;
}

export function contractViolations(f: ImageFacts): Violation[] {
  const out: Violation[] = [];
  const [nonRoot, version] = configViolations(f);
  if (nonRoot) out.push(nonRoot);
  if (!f.shell) {
    out.push({ rule: 'shell', message: `image ${f.ref} has no shell at /bin/sh`, fix: 'base it on an image with a POSIX shell (debian, busybox), or add one: commands run as `sh -c`' });
  } else if (!f.workspaceWritable) {
    // Its own USER only: SandboxShift gives /workspace to any other environment user itself.
    const [u = '65532', g = u] = (f.probedAs || '65532').split(':');
    out.push({
      rule: 'workspace',
      message: `image ${f.ref} has no /workspace writable by its own USER ${f.probedAs || 'root'}`,
      fix: `add \`RUN install -d -o ${u} -g ${g} /workspace\` to its Dockerfile`,
    });
  }
  if (version) out.push(version);
  return out;
}

/**
 * The rules an image's config alone decides (its USER and contract label), each undefined when
 * kept: what plan can check of an image on a registry before pulling it.
 */
export function configViolations(f: Pick<ImageFacts, 'ref' | 'user' | 'contract'>): [nonRoot: Violation | undefined, version: Violation | undefined] {
  const user = f.user.trim();
  const nonRoot: Violation | undefined =
    user === '' || /^(root|0)(:.*)?$/.test(user)
      ? { rule: 'non-root', message: `image ${f.ref} runs as root (USER ${user || 'not set'})`, fix: 'add `USER 65532:65532` (a non-root numeric user) to its Dockerfile' }
      : undefined;
  const version: Violation | undefined =
    f.contract === CONTRACT_VERSION
      ? undefined
      : {
          rule: 'contract-version',
          message:
            f.contract === null
              ? `image ${f.ref} has no io.sandboxshift.contract label (this version needs contract ${CONTRACT_VERSION})`
              : `image ${f.ref} declares contract ${f.contract}, this version needs contract ${CONTRACT_VERSION}`,
          fix: `label it \`LABEL io.sandboxshift.contract="${CONTRACT_VERSION}"\` once it meets the contract, or set allowContractMismatch: true on the environment`,
        };
  return [nonRoot, version];
}
