/** `noop`: succeeds at once without starting a process (Azkaban's NoopJob). */
import { settledJob, type Jobtype } from './jobtype.js';

export const noopJobtype: Jobtype = {
  name: 'noop',
  start: () => settledJob({ status: 'SUCCEEDED' }),
};
