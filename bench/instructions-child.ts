/**
 * One run under callgrind for `bench/instructions.ts`: `cycles` cycles of one micro-benchmark of
 * the bench (the same `lifeguardFactory` pools and loops), on the QueuePool of the build at
 * `indexUrl`. Prints the cycles completed (callgrind counts the instructions).
 *
 *   node build/bench/instructions-child.js <indexUrl> <uncontended|contended>[-work] <cycles>
 */
import type { QueuePool, QueuePoolOptions } from '../src/index.js';
import { lifeguardFactory } from './lifeguard-subject.js';

const [indexUrl, scenario, cyclesArg] = process.argv.slice(2);
const cycles = Number(cyclesArg);
if (indexUrl === undefined || scenario === undefined || !Number.isInteger(cycles) || cycles < 1) {
  throw new Error('usage: instructions-child.js <indexUrl> <uncontended|contended>[-work] <cycles>');
}
const built = (await import(indexUrl)) as { QueuePool: new (options: QueuePoolOptions<object>) => QueuePool<object> };
const work = scenario.endsWith('-work');
// The sizes of `npm run bench`: 8 connections, 64 callers.
const subject = lifeguardFactory(work, built.QueuePool).create(8, () => ({}));
const completed = scenario.startsWith('uncontended') ? await subject.uncontended(cycles) : await subject.contended(64, Math.ceil(cycles / 64));
await subject.close();
process.stdout.write(`${completed}\n`);
