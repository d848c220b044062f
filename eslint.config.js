// The configuration lives in tools/lint (installed apart: `npm ci --prefix tools/lint`).
export { default } from './tools/lint/eslint.config.js';
