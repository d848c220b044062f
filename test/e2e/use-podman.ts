// Imported first by test files that target Podman explicitly (before harness.ts): the harness,
// the CLI it runs and the docker CLI then all talk to Podman's socket. Each e2e file runs in its
// own process, so this does not leak into other files.
process.env.SANDBOXSHIFT_TEST_ENGINE = 'podman';
