// Labels are the state: every object SandboxShift creates carries these, and `observe()` reads
// nothing else to know what exists. Public and documented in the README.

export const LABEL_PREFIX = 'io.sandboxshift';

export const Labels = {
  project: 'io.sandboxshift.project',
  environment: 'io.sandboxshift.environment',
  /** environment | workspace | volume (an extra named volume) | lock | egress | network | protect | filling | egress-policy | applied-commit | idle-stopped | touch | copying | engine-policy | helper (a never-started container that copies a workspace) */
  role: 'io.sandboxshift.role',
  /** Hash of the canonical spec; a difference means the container must be replaced. */
  configHash: 'io.sandboxshift.config-hash',
  /** Canonical JSON of the spec, so a plan can say which attribute changed. */
  spec: 'io.sandboxshift.spec',
  /** JSON of cpu/memory/pids at creation; these change in place. */
  resources: 'io.sandboxshift.resources',
  /** On environments and workspaces: at creation; on protect records: the value now. */
  protect: 'io.sandboxshift.protect',
  version: 'io.sandboxshift.version',
  /** On an extra named volume (role `volume`): its name under the environment's `volumes:`. */
  volume: 'io.sandboxshift.volume',
  /** On a workspace volume made for a `moved` environment: the environment whose files it takes. */
  movedFrom: 'io.sandboxshift.moved-from',
  /** On images: the contract version the image promises (see images/README.md). */
  contract: 'io.sandboxshift.contract',
  /** On built images: which config image it is, and its build context. */
  image: 'io.sandboxshift.image',
  contextHash: 'io.sandboxshift.context-hash',
  contextFiles: 'io.sandboxshift.context-files',
  /** On sandboxes and proxies made with IPv6 off (IPV6_OFF_SYSCTLS, Podman egress): `off`. Podman shows no sysctls in inspect. */
  ipv6: 'io.sandboxshift.ipv6',
  /** On egress proxies: the allow list (JSON) they enforce. */
  egressAllow: 'io.sandboxshift.egress.allow',
  /** On egress-policy records: the ID of the proxy container the record is about. */
  egressProxyId: 'io.sandboxshift.egress.proxy-id',
  /** On egress-policy records: `pending` (a reload began) or `enforced` (the proxy acknowledged it). */
  egressPolicyState: 'io.sandboxshift.egress.policy-state',
  /** On idle records: when the environment's last activity was, what was done (stop | pause), to which container. */
  idleSince: 'io.sandboxshift.idle.since',
  idleAction: 'io.sandboxshift.idle.action',
  idleContainer: 'io.sandboxshift.idle.container',
  /** On touch records: when `sandboxshift touch` recorded activity. */
  touchedAt: 'io.sandboxshift.idle.touched-at',
  /** On copying records (engine/copy-freeze.ts): the container a `cp` paused while it copies. */
  copyContainer: 'io.sandboxshift.copy.container',
  lockId: 'io.sandboxshift.lock.id',
  lockHolder: 'io.sandboxshift.lock.holder',
  lockPid: 'io.sandboxshift.lock.pid',
  /** The holder's start time (/proc/PID/stat field 22), so a reused pid is not taken for the holder. */
  lockPidStarted: 'io.sandboxshift.lock.pid-started',
  lockSince: 'io.sandboxshift.lock.since',
  lockCommand: 'io.sandboxshift.lock.command',
  /** On applied-commit records (watch --git): the git commit last applied, when, and by whom (watch@HOST). */
  appliedCommit: 'io.sandboxshift.applied.commit',
  appliedAt: 'io.sandboxshift.applied.at',
  appliedBy: 'io.sandboxshift.applied.by',
  /** On failing records (watch): the change that keeps failing, how often in a row, since when, the last error. */
  failingAddress: 'io.sandboxshift.failing.address',
  failingCount: 'io.sandboxshift.failing.count',
  failingSince: 'io.sandboxshift.failing.since',
  failingLast: 'io.sandboxshift.failing.last',
  failingStep: 'io.sandboxshift.failing.step',
  failingError: 'io.sandboxshift.failing.error',
  /** On engine-policy records (no project: engine-wide): the policy document (canonical JSON), its sha256, generation, state (set | cleared), who set it and when. */
  enginePolicyDocument: 'io.sandboxshift.engine-policy.document',
  enginePolicyHash: 'io.sandboxshift.engine-policy.hash',
  enginePolicyGeneration: 'io.sandboxshift.engine-policy.generation',
  enginePolicyState: 'io.sandboxshift.engine-policy.state',
  enginePolicySetBy: 'io.sandboxshift.engine-policy.set-by',
  enginePolicySetAt: 'io.sandboxshift.engine-policy.set-at',
} as const;

export type Role =
  | 'environment'
  | 'workspace'
  | 'volume'
  | 'lock'
  | 'egress'
  | 'network'
  | 'protect'
  | 'helper'
  | 'filling'
  | 'egress-policy'
  | 'applied-commit'
  | 'idle-stopped'
  | 'touch'
  | 'failing'
  | 'engine-policy';

export function projectFilter(project: string, role?: Role): Record<string, string[]> {
  return { label: [`${Labels.project}=${project}`, ...(role ? [`${Labels.role}=${role}`] : [])] };
}
