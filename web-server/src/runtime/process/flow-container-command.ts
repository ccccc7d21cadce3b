/** How solo mode starts a flow container of this checkout. */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ContainerCommand {
  executable: string;
  args: string[];
}

/**
 * `node dist/flow-container/src/main.js` when the build output exists, else the TypeScript source
 * through tsx (`node --import <tsx> flow-container/src/main.ts`, tsx resolved from the repository's
 * node_modules so the container does not depend on its working directory).
 */
export function defaultFlowContainerCommand(repoRoot: string): ContainerCommand {
  const built = path.join(repoRoot, 'dist', 'flow-container', 'src', 'main.js');
  if (fs.existsSync(built)) return { executable: process.execPath, args: [built] };
  const tsx = createRequire(path.join(repoRoot, 'package.json')).resolve('tsx');
  return {
    executable: process.execPath,
    args: ['--import', pathToFileURL(tsx).href, path.join(repoRoot, 'flow-container', 'src', 'main.ts')],
  };
}
