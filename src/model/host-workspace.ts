// `workspace.hostPath`: a host folder as /workspace. The container runs as the folder's owner,
// read here at plan time, so what the agent writes there belongs to that owner on the host,
// with no setuid helper inside.
import { statSync } from 'node:fs';
import type { Config, EnvironmentConfig } from '../config/types.js';
import { errorDiag, type Diagnostic } from '../diagnostics.js';

/**
 * The environment with its user set to the host folder's owner; itself when it has no host
 * folder; null (and a diagnostic) when the folder cannot be used.
 */
export function withHostWorkspaceOwner(config: Config, env: EnvironmentConfig, diagnostics: Diagnostic[]): EnvironmentConfig | null {
  const path = env.workspace.hostPath;
  if (path === undefined) return env;
  const at = { file: config.file, path: `environments.${env.name}.workspace.hostPath` };
  let owner: { uid: number; gid: number };
  try {
    const st = statSync(path);
    if (!st.isDirectory()) {
      diagnostics.push(errorDiag(`environment '${env.name}': workspace.hostPath ${path} is not a folder`, { ...at, hint: 'point hostPath at a folder (relative to the config file)' }));
      return null;
    }
    owner = { uid: st.uid, gid: st.gid };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    diagnostics.push(errorDiag(`environment '${env.name}': workspace.hostPath ${path} ${what}`, { ...at, hint: `create the folder (mkdir -p ${path}) or fix hostPath (relative to the config file)` }));
    return null;
  }
  const ownerText = `${owner.uid}:${owner.gid}`;
  if (env.userSet && (env.uid !== owner.uid || env.gid !== owner.gid)) {
    diagnostics.push(
      errorDiag(
        `environment '${env.name}': user ${env.uid}:${env.gid} is not the owner ${ownerText} of workspace.hostPath ${path}; with a host folder as /workspace the container runs as the folder's owner`,
        {
          file: config.file,
          path: `environments.${env.name}.user`,
          hint: `remove user: (it runs as ${ownerText}), set user: "${ownerText}", or chown the folder to ${env.uid}:${env.gid}`,
        },
      ),
    );
    return null;
  }
  if (owner.uid === 0 && !env.allowDangerous.includes('root-user')) {
    diagnostics.push(
      errorDiag(`environment '${env.name}': workspace.hostPath ${path} is owned by root (uid 0), so the container would run as root`, {
        ...at,
        hint: `chown the folder to the user who should own the agent's files (e.g. chown -R 1000:1000 ${path}), or add allowDangerous: [root-user] if you really mean it`,
      }),
    );
    return null;
  }
  return { ...env, uid: owner.uid, gid: owner.gid };
}
