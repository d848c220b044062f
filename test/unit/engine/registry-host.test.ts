// Which registries go without TLS (loopback only, as an address is written), and how a Docker
// Hub repository is named to Podman (in full, so no short name reaches its search registries).
import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../../src/engine/registry-host.js';
import { qualifiedRepository } from '../../../src/engine/registry.js';

describe('isLoopback', () => {
  it.each(['127.0.0.1:5000', '127.255.255.254', 'localhost:5000', 'localhost', '[::1]:5000', '[::1]'])('%s is loopback', (host) => {
    expect(isLoopback(host)).toBe(true);
  });

  it.each(['127.000.000.001:5000', '127.1', '127.0.0.256', '0.0.0.0', '127.0.0.1.example.test', 'localhost.example.test', '10.0.0.1:5000', 'registry.example.test'])(
    '%s is not: TLS is required',
    (host) => {
      expect(isLoopback(host)).toBe(false);
    },
  );
});

describe('qualifiedRepository', () => {
  it.each([
    ['alpine', 'docker.io/library/alpine'],
    ['team/app', 'docker.io/team/app'],
    ['docker.io/library/alpine', 'docker.io/library/alpine'],
    ['docker.io/team/app', 'docker.io/team/app'],
    ['127.0.0.1:5000/team/app', '127.0.0.1:5000/team/app'],
    ['localhost/app', 'localhost/app'],
    ['registry.example.test/app', 'registry.example.test/app'],
  ])('%s → %s', (repository, qualified) => {
    expect(qualifiedRepository(repository)).toBe(qualified);
  });
});
