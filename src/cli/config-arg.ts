// The config file a command reads (-c FILE, else SANDBOXSHIFT_CONFIG, else sandboxshift.yaml), and
// how a hint names it. Apart from args.ts so exec's short path loads no flag parser.

export function configPath(values: { config?: string | boolean | (string | boolean)[] }): string {
  const v = values.config;
  return typeof v === 'string' ? v : (process.env.SANDBOXSHIFT_CONFIG ?? 'sandboxshift.yaml');
}

/** `-c FILE` for commands a hint tells the user to run, when the config is not the default one. */
export function configArgs(path: string): string[] {
  if (path === 'sandboxshift.yaml') return [];
  return ['-c', /^[\w./@:+-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`];
}
