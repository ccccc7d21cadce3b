// Mocha reporter: the spec reporter's output, plus the counts written to $CAISSON_TEST_SUMMARY
// so scripts/run-tests.mjs can end the run with the plain line "N passed, N failed".
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const file = process.env.CAISSON_TEST_SUMMARY;
      const s = this.stats;
      if (file) fs.writeFileSync(file, JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending }));
    });
  }
}
module.exports = SummaryReporter;
