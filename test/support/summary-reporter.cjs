// Prints the closing line CI reads: "N passed, N failed[, N skipped]". Under scripts/run-tests.mjs
// (BM_TEST_SUMMARY_FILE set) it writes the counts to that file instead, and the script prints one
// line for all its jest runs.
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const file = process.env.BM_TEST_SUMMARY_FILE;
    if (file) writeFileSync(file, JSON.stringify({ passed: results.numPassedTests, failed, skipped }));
    else process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
module.exports = SummaryReporter;
