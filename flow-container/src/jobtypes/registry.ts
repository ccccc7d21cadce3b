/** The jobtypes this container knows, by name. Plugin jobtypes (payload directories) come later. */
import { commandJobtype } from './command.js';
import type { Jobtype } from './jobtype.js';
import { noopJobtype } from './noop.js';

export function builtInJobtypes(): ReadonlyMap<string, Jobtype> {
  return new Map([noopJobtype, commandJobtype].map((t) => [t.name, t]));
}
