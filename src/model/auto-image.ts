// `image: auto`: pick the runtime from the workspace's marker files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvironmentConfig } from '../config/types.js';

export interface AutoChoice {
  image: string;
  /** Why, for the plan: "requirements.txt → python". */
  because: string;
}

const PYTHON_MARKERS = ['requirements.txt', 'pyproject.toml'];
const NODE_MARKERS = ['package.json'];

/**
 * python for requirements.txt/pyproject.toml, node for package.json, multi for both, and the
 * config's image named `default` (else multi) when there is nothing to go by.
 */
export function chooseAutoImage(env: EnvironmentConfig, defined: ReadonlySet<string>): AutoChoice {
  const fallback = defined.has('default') ? 'default' : 'multi';
  const dir = env.workspace.from;
  if (!dir) {
    const why = env.workspace.git ? 'git workspace, not inspected before cloning' : 'no workspace.from to inspect';
    return { image: fallback, because: `${why} → ${fallback}` };
  }
  const python = PYTHON_MARKERS.filter((m) => existsSync(join(dir, m)));
  const node = NODE_MARKERS.filter((m) => existsSync(join(dir, m)));
  const markers = [...python, ...node].join(', ');
  if (python.length && node.length) return { image: 'multi', because: `${markers} → multi` };
  if (python.length) return { image: 'python', because: `${markers} → python` };
  if (node.length) return { image: 'node', because: `${markers} → node` };
  return { image: fallback, because: `no marker files in workspace.from → ${fallback}` };
}
