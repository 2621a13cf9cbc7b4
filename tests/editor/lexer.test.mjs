// The reference lexer is the oracle of the grammar tests: check it on the cases where the
// lexer rules of grammar/Policy.g4 are subtle (longest match, rule order on ties).
import test from 'node:test';
import assert from 'node:assert/strict';
import { lexLine, splitLines } from './lib/lexer.mjs';

const lex = (line) => lexLine(line).map((t) => `${t.type}:${t.text}`);

const CASES = [
  ['1h30m 500ms 7d 0ms0s', ['DURATION:1h30m', 'DURATION:500ms', 'DURATION:7d', 'DURATION:0ms0s']],
  ['1_000ms', ['INT:1_000', 'ID:ms']],
  ['1m5 5max', ['DURATION:1m', 'INT:5', 'DURATION:5m', 'ID:ax']],
  ['5_000 2.5 0.000_001 1_', ['INT:5_000', 'DECIMAL:2.5', 'DECIMAL:0.000_001', 'INT:1_']],
  ['2024-12-30 2024-12-30T10:00Z 2024-12-30T10:00:00Z', ['TIME:2024-12-30', 'TIME:2024-12-30T10:00Z', 'TIME:2024-12-30T10:00:00Z']],
  ['2024-13-45T25:61', ['TIME:2024-13-45', 'ID:T25', 'COLON::', 'INT:61']],
  ['10.0.0.1 10.0.0.0/8 10.0.0.0/ 1.2.3.4567', ['IPV4:10.0.0.1', 'CIDR4:10.0.0.0/8', 'IPV4:10.0.0.0', 'SLASH:/', 'IPV4:1.2.3.456', 'INT:7']],
  ['1234.5.6.7 1.2.3', ['DECIMAL:1234.5', 'DOT:.', 'DECIMAL:6.7', 'DECIMAL:1.2', 'DOT:.', 'INT:3']],
  ['UA-43 UAB-43 xUA-4a GB', ['REGION:UA-43', 'ID:UAB', 'MINUS:-', 'INT:43', 'ID:xUA', 'MINUS:-', 'INT:4', 'ID:a', 'ID:GB']],
  ['permit permitted _ _x product', ['PERMIT:permit', 'ID:permitted', 'UNDERSCORE:_', 'ID:_x', 'PRODUCT:product']],
  ['== != <= >= < > => = + - * / | !', ['EQ:==', 'NE:!=', 'LE:<=', 'GE:>=', 'LT:<', 'GT:>', 'ARROW:=>', 'ASSIGN:=', 'PLUS:+', 'MINUS:-', 'STAR:*', 'SLASH:/', 'PIPE:|', 'ERROR_CHAR:!']],
  ['"a\\"b" x', ['STRING:"a\\"b"', 'ID:x']],
  ['"abc permit', ['UNTERMINATED_STRING:"abc permit']],
  ['"abc\\', ['UNTERMINATED_STRING:"abc', 'ERROR_CHAR:\\']],
  ['x // permit "y"', ['ID:x', 'LINE_COMMENT:// permit "y"']],
  ['a/b', ['ID:a', 'SLASH:/', 'ID:b']],
];

for (const [line, expected] of CASES) {
  test(`lexes ${JSON.stringify(line)}`, () => {
    assert.deepEqual(lex(line), expected);
  });
}

test('splits lines like an editor (\\r\\n, \\r, \\n)', () => {
  assert.deepEqual(splitLines('a\r\nb\rc\nd'), ['a', 'b', 'c', 'd']);
});
