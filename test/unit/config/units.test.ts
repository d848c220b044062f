import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatBytes, parseDuration, parseMemory } from '../../../src/config/index.js';
import { DURATION_PATTERN, MEMORY_PATTERN } from '../../../src/config/units.js';
import { ENV_VAR_PATTERN, NAME_PATTERN, SECRET_NAME_PATTERN, USER_PATTERN } from '../../../src/config/format-messages.js';
import { closestMatch, levenshtein } from '../../../src/config/suggest.js';

describe('parseMemory', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['256Mi', 256 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['1gb', 1024 ** 3],
    ['64k', 64 * 1024],
    ['1.5g', 1.5 * 1024 ** 3],
    ['100b', 100],
    ['1048576', 1048576],
    [' 2 G ', 2 * 1024 ** 3],
    [7340032, 7340032],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseMemory(text)).toBe(bytes);
  });

  it.each(['', 'lots', '5x', '1gig', '-1m', '1.g', 'm'])('rejects %j', (text) => {
    expect(parseMemory(text)).toBeUndefined();
  });

  it('rejects fractional and negative byte counts', () => {
    expect(parseMemory(1.5)).toBeUndefined();
    expect(parseMemory(-1)).toBeUndefined();
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30],
    ['15m', 900],
    ['2h', 7200],
    ['1h30m', 5400],
    ['1d', 86400],
    ['0s', 0],
  ])('%s is %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it('reads never as null', () => {
    expect(parseDuration('never')).toBeNull();
  });

  it.each(['', '10', '10y', 'h', '1h 30m', 'forever', '-5m'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0B'],
    [1023, '1023B'],
    [6 * 1024 ** 2, '6MiB'],
    [512 * 1024 ** 2, '512MiB'],
    [1.5 * 1024 ** 3, '1.5GiB'],
    [2 * 1024 ** 4, '2TiB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('suggestions', () => {
  it('measures edit distance', () => {
    expect(levenshtein('enviroments', 'environments')).toBe(1);
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
  });

  it('suggests only close matches', () => {
    expect(closestMatch('enviroments', ['version', 'project', 'environments'])).toBe('environments');
    expect(closestMatch('Image', ['image', 'env'])).toBe('image');
    expect(closestMatch('mem', ['image', 'memory'])).toBeUndefined();
  });
});

describe('schema patterns', () => {
  // The schema holds a copy of each pattern for editors; the code's messages are keyed by the same text.
  const schema = readFileSync(new URL('../../../schemas/sandboxshift.schema.json', import.meta.url), 'utf8');

  it.each([MEMORY_PATTERN, DURATION_PATTERN, NAME_PATTERN, ENV_VAR_PATTERN, SECRET_NAME_PATTERN, USER_PATTERN])('schema uses %s', (pattern) => {
    expect(schema).toContain(JSON.stringify(pattern));
  });
});
