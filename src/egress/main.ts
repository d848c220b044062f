// Entry point of the egress proxy container. Node built-ins only, so it bundles into a small image.
//   SANDBOXSHIFT_EGRESS_POLICY  path of the policy file, {"allow": [...]}
//   SANDBOXSHIFT_EGRESS_PORT    listening port, default 3128
//   SANDBOXSHIFT_EGRESS_HOST    listening address, default 0.0.0.0. The container also sits on the
//                               outside network; binding the sandbox-side address keeps the proxy
//                               from serving that network too.
//   SANDBOXSHIFT_EGRESS_STATS   where the live figures are written, default
//                               /var/lib/sandboxshift-egress/stats.json
// SIGHUP (or a change to the file) reloads the policy; SIGTERM and SIGINT stop.

import { parsePort } from './host-name.js';
import { errorMessage, eventLine } from './log-lines.js';
import { startEgressService } from './service.js';
import { DEFAULT_STATS_PATH } from './stats-file.js';

const log = (line: string) => {
  process.stdout.write(`${line}\n`);
};

async function main(): Promise<number | undefined> {
  const policyPath = process.env.SANDBOXSHIFT_EGRESS_POLICY;
  if (!policyPath) {
    log(eventLine('fatal', { error: 'SANDBOXSHIFT_EGRESS_POLICY is not set' }));
    return 1;
  }
  const portText = process.env.SANDBOXSHIFT_EGRESS_PORT ?? '3128';
  const port = parsePort(portText);
  if (port === null) {
    log(eventLine('fatal', { error: `SANDBOXSHIFT_EGRESS_PORT is not a port: ${portText}` }));
    return 1;
  }

  const host = process.env.SANDBOXSHIFT_EGRESS_HOST ?? '0.0.0.0';
  const statsPath = process.env.SANDBOXSHIFT_EGRESS_STATS ?? DEFAULT_STATS_PATH;
  const service = await startEgressService({ policyPath, host, port, log, watchIntervalMs: 500, statsPath });
  process.on('SIGHUP', () => service.reloadPolicy('SIGHUP'));
  const stop = (signal: string) => {
    log(eventLine('stopping', { signal }));
    // Tunnels are dropped by stop(); this is only a backstop against a stuck close.
    setTimeout(() => process.exit(1), 5000).unref();
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log(eventLine('fatal', { error: errorMessage(error) }));
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    log(eventLine('fatal', { error: errorMessage(error) }));
    process.exitCode = 1;
  },
);
