// An engine refusal no caller expected is advice, not a stack trace (src/engine/client.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { engineRefused, isEngineRefusal } from '../../../src/engine/client.js';

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
});

describe('engine refusals', () => {
  it('are told from other errors by their HTTP status', () => {
    expect(isEngineRefusal(Object.assign(new Error('x'), { statusCode: 404 }))).toBe(true);
    expect(isEngineRefusal(new Error('plain'))).toBe(false);
    expect(isEngineRefusal(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
  });

  it("say which engine refused, the engine's message without dockerode's prefix, and what to do", () => {
    process.env.DOCKER_HOST = 'unix:///run/podman/podman.sock';
    const err = Object.assign(new Error('(HTTP code 404) no such container - no such image: docker.io/sandboxshift/lock:1: image not known '), {
      statusCode: 404,
      json: { message: '(HTTP code 404) no such container - no such image: docker.io/sandboxshift/lock:1: image not known ' },
    });
    const [d] = engineRefused(err).diagnostics;
    expect(d?.message).toBe('the Docker engine at DOCKER_HOST=unix:///run/podman/podman.sock refused a request (HTTP 404): no such image: docker.io/sandboxshift/lock:1: image not known');
    expect(d?.hint).toContain('README "Podman"');
    expect(JSON.stringify(d)).not.toContain('    at ');
  });
});
