// Empties dist/ before a build, so the tarball never ships a module that no longer exists in src/.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
