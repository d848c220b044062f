// Preloaded with `node --import=<this file>`: records every module the process resolves (one
// URL a line) in the file named by $SS_RECORD_IMPORTS, so a test can see what a command loads.
import { register } from 'node:module';

const file = process.env.SS_RECORD_IMPORTS;
if (!file) throw new Error('record-imports: set SS_RECORD_IMPORTS to the file to record in');
register('./record-imports-hooks.mjs', import.meta.url, { data: { file } });
