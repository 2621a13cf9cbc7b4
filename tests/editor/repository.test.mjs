// Tokenizes every .policy file of the repository with the TextMate grammar and checks each
// token against the reference lexer (lib/checks.mjs).
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadGrammar, REPO_ROOT } from './lib/textmate.mjs';
import { findPolicyFiles, readIfPresent } from './lib/repo.mjs';
import { checkText } from './lib/checks.mjs';

const files = findPolicyFiles(REPO_ROOT);
const totals = { files: 0, lines: 0, tokens: 0, checks: 0 };

test('the repository has .policy files to check', () => {
  // The fixture alone guarantees a few; the reference library many more.
  assert.ok(files.length >= 2, `found only ${files.length} .policy files under ${REPO_ROOT}`);
});

for (const file of files) {
  const rel = path.relative(REPO_ROOT, file);
  test(`tokenizes ${rel}`, { timeout: 60_000 }, async (t) => {
    const text = readIfPresent(file);
    if (text === null) return t.skip('removed while the tests ran');
    const grammar = await loadGrammar();
    const { problems, stats } = checkText(grammar, text, rel);
    totals.files++;
    for (const k of ['lines', 'tokens', 'checks']) totals[k] += stats[k];
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problem(s) in ${rel}`);
  });
}

test('summary', (t) => {
  t.diagnostic(`checked ${totals.files} files, ${totals.lines} lines, ${totals.tokens} tokens, ${totals.checks} scope checks`);
});
