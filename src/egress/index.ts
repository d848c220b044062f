// Public surface of the egress proxy. Other folders import from here only.

export { parsePolicy, matchHost, DENY_ALL, DEFAULT_PORTS, type EgressPolicy, type EgressRule, type PolicyProblem, type HostMatch } from './policy.js';
export { guardAddress, forbiddenRangesOf, FORBIDDEN_RANGES, type AddressCategory, type AddressVerdict, type ForbiddenRange } from './address-guard.js';
export { normalizeHost, parseAuthority, hostText, type Host } from './host-name.js';
export { parseClientHello, MAX_CLIENT_HELLO_BYTES, type ClientHelloParse } from './sni.js';
export { createEgressProxy, type EgressProxy, type EgressProxyOptions, type ReloadResult } from './proxy.js';
export { ConnectionRegistry, refusalUnder, type OpenConnection } from './connections.js';
export { LiveStats, writeStatsFile, DEFAULT_STATS_PATH, type StatsSnapshot } from './stats-file.js';
export { systemResolver, type Resolver } from './resolver.js';
export { tcpConnector, type Connector } from './upstream.js';
export { loadPolicyFile, policyHash, type PolicyFileLoad } from './policy-file.js';
export { startEgressService, PolicyStartError, type EgressService, type EgressServiceOptions } from './service.js';
export { decisionLine, type Decision } from './log-lines.js';
