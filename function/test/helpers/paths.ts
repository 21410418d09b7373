import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Node 24 from the `node` dev dependency: what the image runs. */
export const NODE = join(ROOT, 'node_modules/.bin/node');

/** A tool installed by `make tools`; the test fails (never skips) when it is missing. */
export function tool(relative: string): string {
  const path = join(ROOT, relative);
  if (!existsSync(path)) throw new Error(`${relative} is missing: run \`make tools\``);
  return path;
}
