// For the kill tests: with SANDBOXSHIFT_TEST_PAUSE set to a point's name, the CLI stops there for
// a minute, so a test can SIGKILL it exactly between two engine calls. Points:
// `egress-reload-pending`, `egress-reload-recorded` (test/e2e/egress-reload.test.ts) and
// `user-setup`, after a container is created and before its user is set up (test/e2e/any-uid.test.ts).
export async function pauseForTest(point: string): Promise<void> {
  if (process.env.SANDBOXSHIFT_TEST_PAUSE === point) await new Promise((r) => setTimeout(r, 60_000));
}
