/** The jobtypes this container knows, by name: the built-ins, then the plugin payloads of CAISSON_JOBTYPES_DIR. */
import { commandJobtype } from './command.js';
import type { Jobtype } from './jobtype.js';
import { noopJobtype } from './noop.js';
import { loadPluginJobtypes } from './plugin.js';

export function builtInJobtypes(jobtypesDir = '', warn?: (message: string) => void): ReadonlyMap<string, Jobtype> {
  const types = new Map([noopJobtype, commandJobtype].map((t) => [t.name, t]));
  // A payload never replaces a built-in jobtype.
  for (const t of loadPluginJobtypes(jobtypesDir, warn)) if (!types.has(t.name)) types.set(t.name, t);
  return types;
}
