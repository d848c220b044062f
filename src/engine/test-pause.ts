// For the kill tests: with SANDBOXSHIFT_TEST_PAUSE set to a point's name, the CLI stops there for
// a minute, so a test can SIGKILL it exactly between two engine calls; with
// SANDBOXSHIFT_TEST_RELEASE_FILE set too, it goes on as soon as that file exists. Points:
// `egress-reload-pending`, `egress-reload-recorded` (test/e2e/egress-reload.test.ts), `user-setup`,
// after a container is created and before its user is set up (test/e2e/any-uid.test.ts), and
// `cp-checked`, once cp has paused the container and checked the path, before it copies
// (test/e2e/cp-freeze.test.ts).
import { existsSync } from 'node:fs';

export async function pauseForTest(point: string): Promise<void> {
  if (process.env.SANDBOXSHIFT_TEST_PAUSE !== point) return;
  const release = process.env.SANDBOXSHIFT_TEST_RELEASE_FILE;
  for (let waited = 0; waited < 60_000 && !(release && existsSync(release)); waited += 50) await new Promise((r) => setTimeout(r, 50));
}
