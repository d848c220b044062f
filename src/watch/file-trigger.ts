// The config file and what it reads (secrets `fromFile`, image build contexts), watched with
// chokidar; a burst of writes (an editor saving in steps) becomes one hint after 150 ms.
import { relative } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Loaded } from '../app/pipeline.js';
import { resolveHostPath } from '../config/index.js';
import { Debouncer } from './scheduler.js';
import type { Trigger, TriggerSink } from './trigger.js';

export const FILE_DEBOUNCE_MS = 150;

/** Every path a loaded config reads: the file itself, `fromFile` secrets, build contexts. */
export function configInputs(loaded: Loaded): string[] {
  const { config } = loaded;
  const paths = new Set<string>([config.file]);
  for (const env of Object.values(config.environments)) {
    for (const source of Object.values(env.secrets)) if ('fromFile' in source) paths.add(resolveHostPath(source.fromFile, config.dir));
  }
  for (const image of Object.values(config.images)) if (image.build) paths.add(image.build.context);
  return [...paths].sort();
}

export class FileTrigger implements Trigger {
  readonly name = 'config';
  private watcher: FSWatcher | null = null;
  private watched = new Set<string>();
  private readonly debounce: Debouncer<string>;
  private sink: TriggerSink | null = null;

  constructor(private readonly configPath: string) {
    this.debounce = new Debouncer(FILE_DEBOUNCE_MS, (paths) => {
      const shown = paths.map((p) => relative(process.cwd(), p) || p).join(',');
      this.sink?.request({ kind: 'config', detail: shown });
    });
  }

  async start(sink: TriggerSink): Promise<void> {
    this.sink = sink;
    // Before the first clean load only the config itself is known.
    const watcher = watch([this.configPath], { ignoreInitial: true, ignored: (p) => /(^|\/)(\.git|node_modules)(\/|$)/.test(p) });
    this.watcher = watcher;
    this.watched = new Set([this.configPath]);
    watcher.on('all', (_event, path) => this.debounce.push(path));
    watcher.on('error', (err) => sink.log.line('watch-error', `file watch: ${(err as Error).message}`));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  configLoaded(loaded: Loaded): void {
    if (!this.watcher) return;
    const paths = configInputs(loaded);
    const next = new Set([...paths, this.configPath]);
    const gone = [...this.watched].filter((p) => !next.has(p));
    const added = [...next].filter((p) => !this.watched.has(p));
    if (gone.length) this.watcher.unwatch(gone);
    if (added.length) this.watcher.add(added);
    this.watched = next;
  }

  async stop(): Promise<void> {
    this.debounce.cancel();
    await this.watcher?.close();
    this.watcher = null;
  }
}
