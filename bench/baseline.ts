/**
 * `npm run bench -- --baseline <git-ref>`: lifeguard as it was at another commit, built from that
 * commit's `src/` into a temp folder and loaded into this process, so the change and its baseline
 * run interleaved in the same rounds (the only fair before-and-after on a noisy machine). The
 * baseline pools are named `lifeguard@<ref>`; "lifeguard is" in their row is the speed ratio.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { QueuePool, QueuePoolOptions } from '../src/index.js';
import { lifeguardFactory } from './lifeguard-subject.js';
import type { SubjectFactory } from './subject.js';

// build/bench/baseline.js -> the repository
const root = fileURLToPath(new URL('../../', import.meta.url));

/** Builds `ref`'s src/ and returns its lifeguard and lifeguard-work pools. */
export async function baselineFactories(ref: string): Promise<{ factories: SubjectFactory[]; cleanup(): void }> {
  const build = buildBaseline(ref);
  try {
    const built = (await import(build.indexUrl)) as {
      QueuePool: new (options: QueuePoolOptions<object>) => QueuePool<object>;
    };
    return {
      factories: [lifeguardFactory(false, built.QueuePool, build.name), lifeguardFactory(true, built.QueuePool, build.name)],
      cleanup: build.cleanup,
    };
  } catch (error) {
    build.cleanup();
    throw error;
  }
}

export interface BaselineBuild {
  /** `ref(sha)`, or the sha when `ref` is one. */
  readonly name: string;
  /** The built `src/index.js`, as a file URL. */
  readonly indexUrl: string;
  cleanup: () => void;
}

/** Builds `ref`'s src/ into a temporary folder (removed by `cleanup`). */
export function buildBaseline(ref: string): BaselineBuild {
  const dir = mkdtempSync(join(tmpdir(), 'lifeguard-baseline-'));
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
    const archive = execFileSync('git', ['archive', '--format=tar', sha, 'src', 'tsconfig.json'], { cwd: root, maxBuffer: 64 << 20 });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', dir, '--rootDir', dir, '--outDir', join(dir, 'out'), '--declaration', 'false', '--sourceMap', 'false'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return {
      name: ref === sha ? sha : `${ref}(${sha})`,
      indexUrl: pathToFileURL(join(dir, 'out/src/index.js')).href,
      cleanup: () => {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = error instanceof Error ? ((error as { stdout?: string }).stdout ?? '') + error.message : String(error);
    throw new Error(`--baseline ${ref}: could not build that commit's lifeguard: ${detail}`);
  }
}
