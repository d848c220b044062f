// Which registries are reached without TLS: only a loopback one (127.0.0.0/8, localhost, ::1),
// as the Docker engine allows by default. SandboxShift's own registry reads and its pulls on
// Podman (whose default is TLS everywhere) follow the same rule.

/** Whether `host` (host[:port], an IPv6 address in brackets) is a loopback registry. */
export function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  // Octets as an address is written (no leading zeros): `127.000.000.001` is a host name to Go.
  const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
  return name === 'localhost' || name === '::1' || new RegExp(`^127\\.${octet}\\.${octet}\\.${octet}$`).test(name);
}
