// The one check both proxy paths run before opening anything: policy first (a denied name is
// never even resolved, so DNS cannot be used to signal out), then resolution, then every
// resolved address through the guard. One forbidden address refuses the lot: the client does not
// get to pick which answer it is connected to.

import { guardAddress } from './address-guard.js';
import { hostText, normalizeHost, type Host } from './host-name.js';
import { formatIp, parseIp, type IpAddress } from './ip-address.js';
import { errorMessage } from './log-lines.js';
import { matchHost, type EgressPolicy } from './policy.js';
import { TimeoutError, withTimeout, type Resolver } from './resolver.js';

export type DestinationCheck =
  | { ok: true; host: Host; rule: string; reason: string; addresses: string[]; resolved?: string[] }
  | { ok: false; host?: Host; status: 400 | 403 | 502 | 504; rule?: string; reason: string; resolved?: string[] };

export async function checkDestination(policy: EgressPolicy, rawHost: string, port: number, resolve: Resolver, timeoutMs: number): Promise<DestinationCheck> {
  const host = normalizeHost(rawHost);
  if (!host) return { ok: false, status: 400, reason: 'not a valid host name or address' };
  const match = matchHost(policy, hostText(host), port);
  if (!match.allowed || match.rule === undefined) return { ok: false, host, status: 403, rule: match.rule, reason: match.reason };

  let addresses: string[];
  let resolved: string[] | undefined;
  if (host.kind === 'ip') {
    addresses = [host.address];
  } else {
    let answers: readonly string[];
    try {
      answers = await withTimeout(resolve(host.name), timeoutMs, `resolving ${host.name}`);
    } catch (error) {
      const status = error instanceof TimeoutError ? 504 : 502;
      return { ok: false, host, status, rule: match.rule, reason: `could not resolve ${host.name}: ${errorMessage(error)}` };
    }
    const parsed = answers.map((answer) => parseIp(answer));
    const valid = parsed.filter((ip): ip is IpAddress => ip !== null);
    if (valid.length !== parsed.length) return { ok: false, host, status: 502, rule: match.rule, reason: `resolver returned something that is not an address for ${host.name}` };
    resolved = [...new Set(valid.map(formatIp))];
    if (resolved.length === 0) return { ok: false, host, status: 502, rule: match.rule, reason: `${host.name} resolved to no addresses`, resolved };
    addresses = resolved;
  }

  for (const address of addresses) {
    const verdict = guardAddress(policy, address);
    if (!verdict.allowed) {
      const reason = host.kind === 'ip' ? verdict.reason : `${host.name} resolves to ${verdict.reason}`;
      return { ok: false, host, status: 403, rule: match.rule, reason, resolved };
    }
  }
  return { ok: true, host, rule: match.rule, reason: match.reason, addresses, resolved };
}
