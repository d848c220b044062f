// What `cp` prints when it is done, on the full path (commands/cp.ts) and the short one
// (cp-fast.ts) alike: the versioned JSON report on stdout, or one line on stderr.
import type { CopyReport } from '../app/copy-run.js';

export function printCopyReport(report: CopyReport, json: boolean, io: { out(text: string): void; err(text: string): void }): void {
  if (json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else io.err(`Successfully copied ${report.files} file${report.files === 1 ? '' : 's'} (${humanBytes(report.bytes)}) to ${report.destination}\n`);
}

export function humanBytes(n: CopyReport['bytes']): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
