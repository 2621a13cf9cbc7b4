// Targeted assertions on fixtures/sample.policy (one of every construct) and on a few snippets
// that cannot be in a valid program (unterminated strings, bad escapes, lexer edge cases).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGrammar, tokenizeLines, scopesAt, hasScope } from './lib/textmate.mjs';
import { lexLine, splitLines, HARD_KEYWORDS, SOFT_KEYWORDS } from './lib/lexer.mjs';
import { checkText } from './lib/checks.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(here, 'fixtures', 'sample.policy');
const sample = fs.readFileSync(FIXTURE, 'utf8');

/** Tokenizes text; returns a function to look up what the grammar did with a piece of it. */
async function tokenized(text) {
  const grammar = await loadGrammar();
  const lines = splitLines(text);
  const tm = tokenizeLines(grammar, lines);
  /**
   * Scopes of every character of `needle`: its `nth` occurrence from the start of `lineNeedle`,
   * in the first line containing `lineNeedle`. Fails if not found.
   */
  const scopesOf = (lineNeedle, needle = lineNeedle, nth = 0) => {
    const i = lines.findIndex((l) => l.includes(lineNeedle));
    assert.ok(i >= 0, `no line contains ${JSON.stringify(lineNeedle)}`);
    let col = lines[i].indexOf(lineNeedle) - 1;
    for (let k = 0; k <= nth; k++) {
      col = lines[i].indexOf(needle, col + 1);
      assert.ok(col >= 0, `line ${i + 1} has no occurrence ${nth} of ${JSON.stringify(needle)}`);
    }
    return Array.from(needle, (_, c) => scopesAt(tm[i], col + c));
  };
  return { lines, tm, scopesOf };
}

/**
 * Assert every character of `needle` (in the line containing `lineNeedle`) has `scope` and,
 * unless it is a comment or string (whose delimiters are tokens of their own), that it is
 * one token.
 */
function expectScope(t, lineNeedle, needle, scope, nth = 0) {
  const all = t.scopesOf(lineNeedle, needle, nth);
  all.forEach((scopes, c) => {
    assert.ok(hasScope(scopes, scope),
      `${JSON.stringify(needle)} (char ${c}) in ${JSON.stringify(lineNeedle)}: expected ${scope}, got ${scopes.slice(1).join(' ')}`);
  });
  if (scope.startsWith('comment.') || scope.startsWith('string.')) return;
  const first = all[0].join(' ');
  assert.ok(all.every((s) => s.join(' ') === first), `${JSON.stringify(needle)} is split into several tokens`);
}

function expectNoScope(t, lineNeedle, needle, prefix, nth = 0) {
  t.scopesOf(lineNeedle, needle, nth).forEach((scopes) => {
    assert.ok(!scopes.some((s) => s.startsWith(prefix)),
      `${JSON.stringify(needle)} in ${JSON.stringify(lineNeedle)}: expected no ${prefix}*, got ${scopes.slice(1).join(' ')}`);
  });
}

const S = '.mandate-policy';

test('the fixture has every keyword, literal kind and operator of the lexer', () => {
  const types = new Set(splitLines(sample).flatMap((l) => lexLine(l).map((t) => t.type)));
  const wanted = [
    ...HARD_KEYWORDS.map((k) => k.toUpperCase()), ...SOFT_KEYWORDS.map((k) => k.toUpperCase()),
    'INT', 'DECIMAL', 'DURATION', 'TIME', 'STRING', 'IPV4', 'CIDR4', 'REGION', 'ID', 'LINE_COMMENT',
    'EQ', 'NE', 'LE', 'GE', 'LT', 'GT', 'ARROW', 'ASSIGN', 'PLUS', 'MINUS', 'STAR', 'SLASH',
    'LBRACE', 'RBRACE', 'LPAREN', 'RPAREN', 'COMMA', 'COLON', 'SEMI', 'DOT', 'PIPE', 'UNDERSCORE',
  ];
  assert.deepEqual(wanted.filter((w) => !types.has(w)), []);
  assert.ok(!types.has('ERROR_CHAR') && !types.has('UNTERMINATED_STRING'), 'the fixture must lex cleanly');
});

test('the fixture passes the general checks', async () => {
  const { problems, stats } = checkText(await loadGrammar(), sample, 'fixtures/sample.policy');
  assert.deepEqual(problems, []);
  assert.ok(stats.checks > 500, `only ${stats.checks} checks`);
});

test('fixture: comments', async () => {
  const t = await tokenized(sample);
  expectScope(t, '// Fixture of', '// Fixture of the TextMate grammar test', 'comment.line.double-slash');
  expectScope(t, '// Fixture of', '//', 'punctuation.definition.comment');
  expectScope(t, 'const MAX_TIER', '// a typed constant', 'comment.line.double-slash');
  expectScope(t, 'kyc_tier: int', '// 0 to 3', 'comment.line.double-slash');
  expectNoScope(t, 'const MAX_TIER', 'const MAX_TIER: int = 3;', 'comment');
});

test('fixture: strings and escapes', async () => {
  const t = await tokenized(sample);
  expectScope(t, 'import', '"lists.policy"', 'string.quoted.double');
  expectScope(t, 'const NOTE', '"', `punctuation.definition.string.begin${S}`, 0);
  expectScope(t, 'const NOTE', '\\"', `constant.character.escape${S}`, 0);
  expectScope(t, 'const NOTE', '\\"', `constant.character.escape${S}`, 1);
  expectScope(t, 'const NOTE', '\\\\', `constant.character.escape${S}`);
  expectScope(t, 'const NOTE', '\\n', `constant.character.escape${S}`);
  expectScope(t, 'const NOTE', '\\t', `constant.character.escape${S}`);
  for (const word of ['// not a comment', 'permit', 'when', 'policy']) {
    expectScope(t, 'const NOTE', word, 'string.quoted.double');
    expectNoScope(t, 'const NOTE', word, 'keyword');
    expectNoScope(t, 'const NOTE', word, 'comment');
  }
  expectScope(t, 'here";', '"', `punctuation.definition.string.end${S}`);
  expectScope(t, 'here";', ';', `punctuation.terminator.statement${S}`);
  expectScope(t, 'policy sample', '"Every construct"', 'string.quoted.double');
  expectScope(t, 'test "UK retail', '"UK retail cannot trade derivatives"', 'string.quoted.double');
});

test('fixture: numbers, durations, times, addresses, regions, booleans', async () => {
  const t = await tokenized(sample);
  expectScope(t, 'const MAX_TIER', '3', `constant.numeric.integer${S}`);
  expectScope(t, 'STEP_UP_WINDOW =', '1h30m', `constant.numeric.duration${S}`);
  expectScope(t, 'QUICK =', '500ms', `constant.numeric.duration${S}`);
  expectScope(t, 'const LAUNCH', '2024-12-30T10:00Z', `constant.numeric.time${S}`);
  expectScope(t, 'const CUTOFF', '2024-12-30', `constant.numeric.time${S}`);
  expectScope(t, 'const PRECISE', '2024-12-30T10:00:00Z', `constant.numeric.time${S}`);
  expectScope(t, 'const OFFICE =', '192.168.10.0/24', `constant.numeric.cidr${S}`);
  expectScope(t, 'const GATEWAY', '10.0.0.1', `constant.numeric.ipv4${S}`);
  expectScope(t, 'const MIN_NET_WORTH', '500_000.50', `constant.numeric.decimal${S}`);
  expectScope(t, 'limit max_leverage', '2.5', `constant.numeric.decimal${S}`);
  expectScope(t, 'limit daily_withdrawal_usd', '10_000_000', `constant.numeric.integer${S}`);
  expectScope(t, 'require auth_age', '15m', `constant.numeric.duration${S}`);
  expectScope(t, 'given now', '2025-01-01T00:00Z', `constant.numeric.time${S}`);
  expectScope(t, 'ip_allowlist: {10', '10.0.0.0/8', `constant.numeric.cidr${S}`);
  expectScope(t, 'crimea:', 'UA-14', `constant.language.region${S}`);
  expectScope(t, 'const FLAG', 'true', `constant.language.boolean.true${S}`);
  expectScope(t, 'subject.verified == false', 'false', `constant.language.boolean.false${S}`);
  expectScope(t, 'verified: true', 'true', `constant.language.boolean.true${S}`);
  const lists = await tokenized(fs.readFileSync(path.join(here, 'fixtures', 'lists.policy'), 'utf8'));
  expectScope(lists, 'const CRIMEA', 'UA-43', `constant.language.region${S}`);
  expectScope(lists, 'const SANCTIONED', 'CU', `constant.language.country${S}`);
});

test('fixture: keywords by group', async () => {
  const t = await tokenized(sample);
  expectScope(t, 'import "lists', 'import', `keyword.control.import${S}`);
  expectScope(t, 'const MAX_TIER', 'const', `keyword.other.declaration.const${S}`);
  expectScope(t, 'schema {', 'schema', `keyword.other.declaration.schema${S}`);
  expectScope(t, 'enum ClientCategory', 'enum', `keyword.other.declaration.enum${S}`);
  expectScope(t, 'actions {', 'actions', `keyword.other.declaration.actions${S}`);
  expectScope(t, 'products ProductClass', 'products', `keyword.other.declaration.products${S}`);
  expectScope(t, 'limits {', 'limits', `keyword.other.declaration.limits${S}`);
  expectScope(t, 'optional lei', 'optional', `keyword.other.declaration.optional${S}`);
  expectScope(t, 'policy sample', 'policy', `keyword.other.declaration.policy${S}`);
  expectScope(t, 'test "UK', 'test', `keyword.other.declaration.test${S}`);
  for (const kind of ['permit', 'deny', 'limit', 'require', 'cap']) {
    expectScope(t, `  ${kind} `, kind, `keyword.control.rule.${kind}${S}`);
  }
  expectScope(t, 'cap ttl', 'ttl', `keyword.control.rule.ttl${S}`);
  expectScope(t, 'deny all on all', 'on', `keyword.control.clause.on${S}`);
  expectScope(t, 'deny all on all', 'all', `keyword.control.clause.all${S}`, 1);
  expectScope(t, 'limit max_leverage', 'for', `keyword.control.clause.for${S}`);
  expectScope(t, 'uk_ban:', 'when', `keyword.control.clause.when${S}`);
  expectScope(t, 'uk_ban:', 'because', `keyword.control.clause.because${S}`);
  expectScope(t, 'given risk', 'given', `keyword.other.test.given${S}`);
  expectScope(t, 'expect deny', 'expect', `keyword.other.test.expect${S}`);
  expectScope(t, 'expect obligation aal', 'obligation', `keyword.other.test.obligation${S}`);
  expectScope(t, 'permit trade on spot, future', 'and', `keyword.operator.logical.and${S}`);
  expectScope(t, 'deny all on all', 'or', `keyword.operator.logical.or${S}`);
  expectScope(t, 'deny withdraw when not', 'not', `keyword.operator.logical.not${S}`);
  expectScope(t, 'product not in', 'in', `keyword.operator.expression.in${S}`, 0);
  expectScope(t, 'crimea:', 'has', `keyword.operator.expression.has${S}`);
  expectScope(t, 'match subject', 'match', `keyword.control.match${S}`);
  expectScope(t, 'cite "Fixture', 'cite', `keyword.other.metadata${S}`);
  expectScope(t, 'owner "editor', 'owner', `keyword.other.metadata${S}`);
  expectScope(t, 'version "2025', 'version', `keyword.other.metadata${S}`);
  expectScope(t, 'product not in', 'product', `variable.language.product${S}`);
  expectScope(t, 'deny withdraw when now', 'now', `variable.language.now${S}`);
  expectScope(t, 'given now', 'now', `variable.language.now${S}`);
});

test('fixture: types, declarations and names', async () => {
  const t = await tokenized(sample);
  for (const type of ['int', 'country', 'region', 'bool', 'decimal', 'time', 'string']) {
    expectScope(t, `: ${type}`, type, `support.type.primitive.${type}${S}`);
  }
  expectScope(t, 'ip: ip', 'ip', `support.type.primitive.ip${S}`, 1);
  expectScope(t, 'ip: ip', 'duration', `support.type.primitive.duration${S}`);
  expectScope(t, 'ip_allowlist: set<cidr>', 'cidr', `support.type.primitive.cidr${S}`);
  expectScope(t, 'const BLOCKED', 'set', `support.type.builtin.set${S}`);
  expectScope(t, 'const BLOCKED', '<', 'punctuation.definition.typeparameters.begin');
  expectScope(t, 'const BLOCKED', '>', 'punctuation.definition.typeparameters.end');
  expectScope(t, 'appropriateness: set<ProductClass>', 'ProductClass', `entity.name.type${S}`);
  expectScope(t, 'category: ClientCategory', 'ClientCategory', `entity.name.type${S}`);
  expectScope(t, 'enum ClientCategory', 'ClientCategory', `entity.name.type.enum${S}`);
  expectScope(t, 'enum ClientCategory', 'professional', `variable.other.enummember${S}`);
  expectScope(t, 'products ProductClass', 'ProductClass', `entity.name.type.enum${S}`);
  expectScope(t, 'const MAX_TIER', 'MAX_TIER', `variable.other.constant${S}`);
  expectScope(t, 'when request.country in SANCTIONED', 'SANCTIONED', `variable.other.constant${S}`);
  expectScope(t, 'kyc_tier: int', 'kyc_tier', `variable.other.member${S}`);
  expectScope(t, 'optional lei', 'lei', `variable.other.member${S}`);
  expectScope(t, 'lei: "5299', 'lei', `variable.other.member${S}`);
  expectScope(t, 'policy sample', 'sample', `entity.name.type.policy${S}`);
  expectScope(t, 'uk_ban:', 'uk_ban', `entity.name.label${S}`);
  expectScope(t, 'uk_ban:', ':', `punctuation.separator.label${S}`);
  expectScope(t, 'sanctions:', 'sanctions', `entity.name.label${S}`);
  expectScope(t, 'office:', 'office', `entity.name.label${S}`);
  expectScope(t, 'limit max_leverage', 'max_leverage', `variable.other.property${S}`);
  expectScope(t, 'require aal', 'aal', `variable.other.property${S}`);
  expectScope(t, 'expect limit daily', 'daily_withdrawal_usd', `variable.other.property${S}`);
  expectScope(t, 'expect obligation ttl', 'ttl', `variable.other.property${S}`);
  expectNoScope(t, 'expect obligation ttl', 'ttl', 'keyword');
});

test('fixture: attribute paths, sections and country codes', async () => {
  const t = await tokenized(sample);
  expectScope(t, 'permit trade on spot, future', 'subject', `variable.language.section.subject${S}`);
  expectScope(t, 'permit trade on spot, future', '.', `punctuation.accessor${S}`);
  expectScope(t, 'permit trade on spot, future', 'kyc_tier', `variable.other.member${S}`);
  expectScope(t, 'cap ttl', 'client', `variable.language.section.client${S}`);
  expectScope(t, 'cap ttl', 'kind', `variable.other.member${S}`);
  expectScope(t, 'office:', 'request', `variable.language.section.request${S}`);
  expectScope(t, 'cap ttl', 'risk', `variable.language.section.risk${S}`);
  expectScope(t, 'given subject {', 'subject', `variable.language.section.subject${S}`);
  expectScope(t, 'request { ip', 'request', `variable.language.section.request${S}`);
  expectScope(t, 'uk_ban:', 'GB', `constant.language.country${S}`);
  expectScope(t, 'const BLOCKED', 'KP', `constant.language.country${S}`);
  expectScope(t, 'given request', 'GB', `constant.language.country${S}`);
});

test('fixture: operators', async () => {
  const t = await tokenized(sample);
  expectScope(t, 'const FEE', '*', `keyword.operator.arithmetic${S}`);
  expectScope(t, 'const FEE', '+', `keyword.operator.arithmetic${S}`);
  expectScope(t, 'const FEE', '/', `keyword.operator.arithmetic${S}`);
  expectScope(t, 'const FEE', '-', `keyword.operator.arithmetic${S}`);
  expectScope(t, 'const FEE', '=', `keyword.operator.assignment${S}`);
  for (const [line, op] of [['uk_ban', '=='], ['!= professional', '!='], ['kyc_tier >= 1', '>='], ['require auth_age', '<='], ['now - subject', '<'], ['net_worth_usd >', '>']]) {
    expectScope(t, line, op, `keyword.operator.comparison${S}`);
  }
  expectScope(t, 'match subject', '=>', `keyword.operator.arrow${S}`);
  expectScope(t, 'match subject', '|', `keyword.operator.alternation${S}`);
  expectScope(t, '_ =>', '_', `variable.language.wildcard${S}`);
  expectScope(t, '-risk.score', '-', `keyword.operator.arithmetic${S}`);
  expectScope(t, '-risk.score', '50', `constant.numeric.integer${S}`);
  expectScope(t, 'match subject', '{', `punctuation.section.braces.begin${S}`);
  expectScope(t, 'deny withdraw when not', '(', `punctuation.section.parens.begin${S}`);
});

test('an unterminated string ends at the end of its line', async () => {
  const t = await tokenized('const S = "abc permit\npolicy p "T" { permit read when x }\n');
  expectScope(t, 'const S', '"abc permit', 'string.quoted.double');
  expectNoScope(t, 'const S', 'permit', 'keyword');
  expectScope(t, 'policy p', 'policy', `keyword.other.declaration.policy${S}`);
  expectNoScope(t, 'policy p', 'policy p', 'string');
  expectScope(t, 'policy p', '"T"', 'string.quoted.double');
  expectScope(t, 'policy p', 'when', `keyword.control.clause.when${S}`);
  const u = await tokenized('const S = "abc\\\ndeny all\n');
  expectScope(u, 'const S', '\\', 'invalid.illegal');
  expectScope(u, 'deny all', 'deny', `keyword.control.rule.deny${S}`);
});

test('bad escapes are marked, good ones are not', async () => {
  const t = await tokenized('const S = "a \\q b \\n";');
  expectScope(t, 'const S', '\\q', `invalid.illegal.unknown-escape${S}`);
  expectScope(t, 'const S', '\\n', `constant.character.escape${S}`);
});

test('keywords inside longer names are not keywords', async () => {
  const t = await tokenized('permit read when permitted and deny_list or policyholder and x_when and notary');
  for (const word of ['permitted', 'deny_list', 'policyholder', 'x_when', 'notary']) expectNoScope(t, 'permit', word, 'keyword');
  expectScope(t, 'permit', 'permit', `keyword.control.rule.permit${S}`);
});

test('soft keywords used as names are not keywords', async () => {
  const text = [
    'schema { subject { version: int  optional cite: string  ttl: duration } }',
    'const optional = 3',
    'policy soft {',
    '  version "1"',
    '  ttl: permit read when subject.version >= optional and has subject.cite and subject.ttl < 1h;',
    '  cap ttl 5m',
    '}',
  ].join('\n');
  const t = await tokenized(text);
  expectNoScope(t, 'schema {', 'version', 'keyword');
  expectScope(t, 'schema {', 'optional', `keyword.other.declaration.optional${S}`);
  expectNoScope(t, 'schema {', 'cite', 'keyword');
  expectNoScope(t, 'const optional', 'optional', 'keyword');
  expectScope(t, '  version "1"', 'version', `keyword.other.metadata${S}`);
  expectScope(t, 'ttl: permit', 'ttl', `entity.name.label${S}`);
  expectScope(t, 'ttl: permit', 'version', `variable.other.member${S}`);
  expectScope(t, 'ttl: permit', 'ttl', `variable.other.member${S}`, 1);
  expectScope(t, 'cap ttl', 'ttl', `keyword.control.rule.ttl${S}`);
});

test('lexer edge cases match the reference lexer', async () => {
  const text = [
    'const A = 999.999.999.999; const B = 10.0.0.0/99; const C = 2024-13-45T25:61Z;',
    'const D = 1.2.3 1_000ms 0ms0s 5max 1_ 10.0.0.1/ UAB-43 xUA-43 GB_X UA-43x 1.2.3.4567;',
    'x: deny subject.limit when a<b and set<set<country>> == {} or (-1) => _ | x_1 !@#',
    'policy permit { } policy _ { } enum limit { a } const deny = 1',
    '"unterminated \\q',
    'deny all // trailing "string" permit',
  ].join('\n');
  const { problems } = checkText(await loadGrammar(), text, 'snippet');
  assert.deepEqual(problems, []);
});

test('line breaks: \\r\\n and lone \\r', async () => {
  const { problems, stats } = checkText(await loadGrammar(), 'permit read // a\r\ndeny x "s\rpolicy p {}\r', 'crlf');
  assert.deepEqual(problems, []);
  assert.equal(stats.lines, 4);
});

test('very long lines tokenize quickly', async () => {
  const grammar = await loadGrammar();
  const lines = [
    'permit read when '.repeat(5000),
    `const S = "${'permit \\" '.repeat(10000)}`,
    `// ${'x'.repeat(100000)}`,
    `const L = {${'GB, UA-43, 10.0.0.0/8, 1h30m, subject.kyc_tier, '.repeat(3000)}}`,
    // Runs that a backtracking pattern would retry from every position (quadratic time).
    '1'.repeat(50000),
    '1_'.repeat(25000),
    `${'9'.repeat(50000)}x`,
    'a'.repeat(50000),
    `${'A'.repeat(50000)}b`,
    `${'Ab1_'.repeat(12500)}:`,
    `${'x.'.repeat(25000)}`,
    `optional${' '.repeat(50000)}x`,
    `set<${'set<'.repeat(10000)}`,
    `${'1m'.repeat(25000)}`,
  ];
  for (const line of lines) {
    const t0 = performance.now();
    const [r] = tokenizeLines(grammar, [line]);
    const ms = performance.now() - t0;
    assert.ok(!r.stoppedEarly, `stopped early on a line of ${line.length} characters`);
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms on a line of ${line.length} characters`);
  }
  const { problems } = checkText(grammar, lines.join('\n'), 'long');
  assert.deepEqual(problems, []);
});
