// Image references as the policy sees them: the repository (registry host and path, without
// tag or digest), matched against patterns where `*` stays within one path segment and `**`
// crosses segments. A reference is matched as written: `debian` is `debian`, not
// `docker.io/library/debian`.

/** `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`. */
export function imageRepository(ref: string): string {
  const name = ref.split('@')[0] ?? ref;
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
}

/** One test for all the patterns (a single regular expression: cheap at hundreds of patterns). */
export function repositoryMatcher(patterns: readonly string[]): (repository: string) => boolean {
  const source = patterns.map(patternSource).join('|');
  const re = new RegExp(`^(?:${source})$`);
  return (repository) => re.test(repository);
}

function patternSource(pattern: string): string {
  return pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
}
