// Which registries are reached without TLS: only a loopback one (127.0.0.0/8, localhost, ::1),
// as the Docker engine allows by default. SandboxShift's own registry reads and its pulls on
// Podman (whose default is TLS everywhere) follow the same rule.

/** Whether `host` (host[:port], an IPv6 address in brackets) is a loopback registry. */
export function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}
