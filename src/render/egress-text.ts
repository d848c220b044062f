// `sandboxshift egress ENV` for people: the allow list with where each rule was written, how it
// is enforced, the policy's hash and whether the engine is behind the config, the last decisions.
import type { EgressLive, EgressReport } from '../app/egress.js';

export function renderEgressText(report: EgressReport, tail: number): string {
  const lines: string[] = [`Egress of environment ${report.environment} (project ${report.project})`, ''];
  if (report.rules.length) {
    lines.push(`Allow list (${report.rules.length} ${report.rules.length === 1 ? 'rule' : 'rules'}):`);
    const width = Math.max(...report.rules.map((r) => r.rule.length));
    const originWidth = Math.max(...report.rules.map((r) => r.origin.length));
    for (const r of report.rules) lines.push(`  ${r.rule.padEnd(width)}  from ${r.origin.padEnd(originWidth)}  ${r.path}`);
  } else {
    lines.push('Allow list: none');
  }
  lines.push(`Mechanism:  ${report.mechanism.description}`);
  const { policy } = report;
  if (policy.hash) lines.push(`Policy:     ${policy.hash}${policy.apply_pending ? '' : ' (the proxy enforces it)'}`);
  if (policy.apply_pending) lines.push(`Enforced:   ${policy.enforced_hash ?? 'nothing'}${policy.enforced_allow ? ` [${policy.enforced_allow.join(', ')}]` : ''} (apply pending)`);
  if (policy.enforced_from === 'record') lines.push('            (reloaded in place: read from its egress-policy record)');
  if (report.live) lines.push(`Live:       ${liveLine(report.live)}`);
  for (const note of report.notes) lines.push(`Note:       ${note}`);
  lines.push('');
  if (tail === 0) {
    lines.push('Last decisions: not read (--tail 0)');
  } else if (!report.decisions.length) {
    lines.push(report.mechanism.proxy ? `Last decisions: none logged yet` : 'Last decisions: none (no egress proxy)');
  } else {
    lines.push(`Last decisions (${report.decisions.length}, newest last):`);
    for (const d of report.decisions) {
      const target = `${d.host ?? '-'}${d.port !== null ? `:${d.port}` : ''}`;
      const why = [d.rule !== null ? `rule ${d.rule}` : null, d.decision === 'deny' ? d.reason : null].filter((w) => w).join(': ');
      lines.push(`  ${d.ts ?? '-'}  ${d.decision.padEnd(5)}  ${(d.method ?? '-').padEnd(7)}  ${target}  ${why}`.trimEnd());
    }
  }
  return `${lines.join('\n')}\n`;
}

/** "2 open connections, 1.2 MiB up, 30.0 MiB down, last activity 12:03:07 UTC" */
export function liveLine(live: EgressLive): string {
  const open = `${live.open_connections} open ${live.open_connections === 1 ? 'connection' : 'connections'}`;
  const when = live.last_activity ? `last activity ${/T(\d\d:\d\d:\d\d)/.exec(live.last_activity)?.[1] ?? live.last_activity}${live.last_activity.endsWith('Z') ? ' UTC' : ''}` : 'no activity yet';
  return `${open}, ${mib(live.bytes_up)} up, ${mib(live.bytes_down)} down, ${when}`;
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
