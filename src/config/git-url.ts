// Git URLs as seeds: a remote (scheme://host/… or scp-like user@host:path) is cloned as it is;
// anything else names a folder on this host, resolved against the config's folder (never the
// process's working directory), and is host access like any other. Credentials in a URL are
// never shown.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const REMOTE_SCHEME = /^(https?|ssh|git|git\+ssh|ssh\+git):\/\//i;
const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)/;

/** The host folder a git URL names, as written (relative or absolute); null for a remote. */
export function localGitPath(url: string): string | null {
  if (REMOTE_SCHEME.test(url) || SCP_LIKE.test(url)) return null;
  const file = /^file:\/\/([^/]*)(\/.*)?$/i.exec(url);
  if (file) return file[2] ?? '/';
  return url;
}

/** The text with the user and password of every URL in it replaced, for plans, logs and errors. */
export function redactGitUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

/** The URL without its user and password, as the clone inside a sandbox keeps it. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}

/**
 * Why a local repository would hand over files from outside itself: a `.git` file pointing at
 * another git folder, or alternates naming another object store. Null when it is self-contained.
 */
export function gitRedirect(repo: string): string | null {
  const dotGit = join(repo, '.git');
  if (!existsSync(dotGit)) return null;
  if (statSync(dotGit).isFile()) return `${dotGit} is a gitfile (${readFileSync(dotGit, 'utf8').trim().slice(0, 200)})`;
  for (const alternates of [join(dotGit, 'objects', 'info', 'alternates'), join(repo, 'objects', 'info', 'alternates')]) {
    if (existsSync(alternates)) return `${alternates} borrows objects from elsewhere`;
  }
  return null;
}
