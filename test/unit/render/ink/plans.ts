// JSON plans for the TUI tests, made by the real planner from the literal states in fixtures.ts.
import type { ObservedState } from '../../../../src/model/observed.js';
import { plan, planDestroy } from '../../../../src/plan/index.js';
import { planToJson, type JsonPlan } from '../../../../src/render/index.js';
import { applied, desiredOf, env, observedOf } from '../../plan/fixtures.js';

const allow = (...list: string[]) => ({ egress: { mode: 'allow' as const, allow: list } });

/** One environment created on an empty engine, with env and a secret. */
export function createPlan(): JsonPlan {
  const desired = desiredOf([env('agent', { env: { ROLE: 'coder' }, secrets: { api_key: { fromEnv: 'KEY' } } })], { KEY: 'hunter2' });
  return planToJson(plan(desired, observedOf([])));
}

/** environment.agent replaced: env, command and runtime changed. */
export function replacePlan(): JsonPlan {
  const old = desiredOf([env('agent', { env: { A: '1', B: '2' }, command: ['sh', '-c', 'make deps\nmake serve'] })]);
  const now = desiredOf([env('agent', { env: { A: '9', C: '3' }, command: ['sh', '-c', 'make deps\nmake watch'], runtime: 'runsc' })]);
  return planToJson(plan(now, observedOf([applied(old.environments.get('agent')!)])));
}

/** environment.a's allow list widened (security), environment.z's env changed (not). */
export function egressWidenedPlan(): JsonPlan {
  const old = desiredOf([env('a', allow('pypi.org')), env('z')]);
  const now = desiredOf([env('a', allow('pypi.org', 'evil.example')), env('z', { env: { X: '1' } })]);
  const base = observedOf([...old.environments.values()].map((d) => applied(d)));
  const observed: ObservedState = {
    ...base,
    outsideNetwork: true,
    proxies: new Map([['a', { id: 'p1', name: 'ss.demo.a.egress', environment: 'a', state: 'running', allow: ['pypi.org'], image: now.images.get('sandboxshift-egress')!.ref, imageId: 'x' }]]),
    networks: new Map([['a', { id: 'net-a', name: 'ss.demo.a.net', subnets: ['10.213.0.0/28'], gatewayIsolated: true }]]),
    usedSubnets: ['10.213.0.0/28'],
  };
  return planToJson(plan(now, observed));
}

/** environment.gone removed from the config; environment.a unchanged. */
export function deletePlan(): JsonPlan {
  const old = desiredOf([env('a'), env('gone')]);
  return planToJson(plan(desiredOf([env('a')]), observedOf([...old.environments.values()].map((d) => applied(d)))));
}

/** destroy --purge-volumes of a and b: both workspaces deleted. */
export function purgePlan(): JsonPlan {
  const desired = desiredOf([env('a'), env('b')]);
  return planToJson(planDestroy(desired, observedOf([...desired.environments.values()].map((d) => applied(d))), { purgeVolumes: true }));
}

/** A new environment with an allow list: the egress proxy image is built, its network made. */
export function imageBuildPlan(): JsonPlan {
  return planToJson(plan(desiredOf([env('web', allow('pypi.org'))]), observedOf([])));
}

/** An image pulled from a registry at a digest (the image change of imageBuildPlan, as a pull). */
export function imagePullPlan(): JsonPlan {
  const p = imageBuildPlan();
  const digest = `sha256:${'ab'.repeat(32)}`;
  return {
    ...p,
    summary: { ...p.summary, build: 0, pull: 1 },
    resource_changes: p.resource_changes.map((c) =>
      c.type === 'image'
        ? {
            ...c,
            steps: ['pull-image', 'verify-image'],
            image_ref: '127.0.0.1:5000/team/app:1',
            digest,
            reasons: [{ code: 'image_pull', message: 'pull 127.0.0.1:5000/team/app:1 (sha256:abababababab) from 127.0.0.1:5000' }],
          }
        : c,
    ),
  };
}

/** Ten new environments: more than a small terminal holds. */
export function manyPlan(): JsonPlan {
  return planToJson(plan(desiredOf(Array.from({ length: 10 }, (_, i) => env(`e${i}`))), observedOf([])));
}
