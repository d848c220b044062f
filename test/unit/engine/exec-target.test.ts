// The short path's lookup of an exec's container by its name: only a running container that our
// labels mark as this environment's is used; anything else is null (the full path decides), and
// an engine error other than 404 is thrown (the short path then falls back).
import { describe, expect, it } from 'vitest';
import { EngineHttpError, type EngineReader } from '../../../src/engine/reader.js';
import { runningNamedContainer } from '../../../src/engine/exec-target.js';

const OURS = { 'io.sandboxshift.project': 'p', 'io.sandboxshift.environment': 'dev', 'io.sandboxshift.role': 'environment' };

function readerWith(answer: { labels?: Record<string, string> | null; status?: string } | Error, asked: string[] = []): EngineReader {
  return {
    inspectContainer: async (id: string) => {
      asked.push(id);
      if (answer instanceof Error) throw answer;
      return { Id: 'c0ffee', Config: { Labels: answer.labels }, State: { Status: answer.status ?? 'running' } };
    },
  } as unknown as EngineReader;
}

describe('runningNamedContainer', () => {
  it("asks for the environment's own name and gives the ID of our running container", async () => {
    const asked: string[] = [];
    expect(await runningNamedContainer(readerWith({ labels: OURS }, asked), 'p', 'dev')).toBe('c0ffee');
    expect(asked).toEqual(['ss.p.dev']);
  });

  it.each([
    ['another role (a volume record under the name)', { ...OURS, 'io.sandboxshift.role': 'volume' }],
    ['another project', { ...OURS, 'io.sandboxshift.project': 'q' }],
    ['another environment', { ...OURS, 'io.sandboxshift.environment': 'web' }],
    ['no role label', { 'io.sandboxshift.project': 'p', 'io.sandboxshift.environment': 'dev' }],
    ['no labels at all', null],
  ])('is null for a container that is not ours: %s', async (_, labels) => {
    expect(await runningNamedContainer(readerWith({ labels }), 'p', 'dev')).toBeNull();
  });

  it.each(['paused', 'exited', 'created', 'restarting', 'dead'])('is null for our container when it is %s (the full path wakes or refuses it)', async (status) => {
    expect(await runningNamedContainer(readerWith({ labels: OURS, status }), 'p', 'dev')).toBeNull();
  });

  it('is null when nothing has the name (a renamed container is found by the full path)', async () => {
    expect(await runningNamedContainer(readerWith(new EngineHttpError(404, { message: 'No such container: ss.p.dev' })), 'p', 'dev')).toBeNull();
  });

  it("throws any other engine error, for the short path to leave to the full one's advice", async () => {
    await expect(runningNamedContainer(readerWith(new EngineHttpError(500, { message: 'boom' })), 'p', 'dev')).rejects.toThrow('boom');
  });
});
