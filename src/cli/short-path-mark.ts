// Whether the bundled CLI's entry already tried the short path of exec, shell or cp
// (short-path.ts) before loading the full CLI: then main.ts does not try it a second time. A
// registered symbol, since the short path and the full CLI are separate bundles that share
// nothing else.
const TRIED = Symbol.for('sandboxshift.shortPathTried');

export function markShortPathTried(): void {
  (globalThis as Record<symbol, unknown>)[TRIED] = true;
}

export function shortPathTried(): boolean {
  return (globalThis as Record<symbol, unknown>)[TRIED] === true;
}
