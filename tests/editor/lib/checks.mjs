// The general checks: tokenize a text with the TextMate grammar and with the reference lexer
// (lexer.mjs), and check that every token of the lexer got the scope the grammar promises.
import { lexLine, splitLines, isHardKeyword, isSoftKeyword, isName } from './lexer.mjs';
import { tokenizeLines, scopesAt, hasScope } from './textmate.mjs';

const RULE_KINDS = new Set(['PERMIT', 'DENY', 'LIMIT', 'REQUIRE', 'CAP']);
const SECTIONS = new Set(['subject', 'client', 'request', 'risk']);
const OPERATORS = new Set(['EQ', 'NE', 'LE', 'GE', 'LT', 'GT', 'ARROW', 'ASSIGN', 'PLUS', 'MINUS', 'STAR', 'SLASH', 'PIPE']);
const PUNCTUATION = new Set(['LBRACE', 'RBRACE', 'LPAREN', 'RPAREN', 'COMMA', 'COLON', 'SEMI', 'DOT']);
const LITERAL_SCOPES = {
  INT: 'constant.numeric.integer',
  DECIMAL: 'constant.numeric.decimal',
  DURATION: 'constant.numeric.duration',
  TIME: 'constant.numeric.time',
  IPV4: 'constant.numeric.ipv4',
  CIDR4: 'constant.numeric.cidr',
  REGION: 'constant.language.region',
  TRUE: 'constant.language.boolean',
  FALSE: 'constant.language.boolean',
};
const VALID_ESCAPES = '"\\nt';

/**
 * Checks one text. Returns {problems: [string], stats: {lines, tokens, checks}}.
 * Each token yields at most one problem (the first check it fails).
 */
export function checkText(grammar, text, where) {
  const lines = splitLines(text);
  const tm = tokenizeLines(grammar, lines, { where });
  const problems = [];
  const stats = { lines: lines.length, tokens: 0, checks: 0 };

  lines.forEach((line, i) => {
    const tml = tm[i];
    const at = (col) => `${where}:${i + 1}:${col + 1}`;
    if (tml.stoppedEarly) problems.push(`${at(0)}: tokenization stopped at the time limit`);
    const covered = tml.tokens.length === 0 ? line.length === 0
      : tml.tokens[0].start === 0 && tml.tokens.every((t, k) => k === 0 || t.start === tml.tokens[k - 1].end);
    if (!covered) problems.push(`${at(0)}: TextMate tokens do not cover the line`);

    const toks = lexLine(line);
    let typeArgDepth = 0; // inside set<...>
    toks.forEach((t, k) => {
      stats.tokens++;
      const prev = toks[k - 1];
      const next = toks[k + 1];
      const next2 = toks[k + 2];
      let failed = false;
      const scopes = (col) => scopesAt(tml, col) ?? [];
      const describe = (col) => scopes(col).slice(1).join(' ') || '(no scope)';
      const fail = (col, what) => {
        if (!failed) problems.push(`${at(col)}: ${t.type} ${JSON.stringify(t.text)}: expected ${what}, got ${describe(col)}`);
        failed = true;
      };
      // Every character of the token has the scope.
      const every = (scope, { from = t.start, to = t.end } = {}) => {
        stats.checks++;
        for (let c = from; c < to; c++) if (!hasScope(scopes(c), scope)) return fail(c, scope);
      };
      // No character of the token has a scope starting with the prefix.
      const none = (prefix) => {
        stats.checks++;
        for (let c = t.start; c < t.end; c++) {
          if (scopes(c).some((s) => s.startsWith(prefix))) return fail(c, `no ${prefix}* scope`);
        }
      };
      // The token is one TextMate token (not split into parts with different scopes).
      const whole = () => {
        stats.checks++;
        const first = scopes(t.start).join(' ');
        for (let c = t.start + 1; c < t.end; c++) {
          if (scopes(c).join(' ') !== first) return fail(c, `one token with the scopes of its first character (${first})`);
        }
      };

      if (t.type === 'LINE_COMMENT') {
        every('comment.line.double-slash');
        every('punctuation.definition.comment', { to: t.start + 2 });
        return;
      }
      if (t.type === 'STRING' || t.type === 'UNTERMINATED_STRING') {
        every('string.quoted.double');
        none('keyword.');
        none('comment.');
        for (let j = 1; j < t.text.length - 1; j++) {
          if (t.text[j] !== '\\') continue;
          const from = t.start + j;
          if (VALID_ESCAPES.includes(t.text[j + 1])) every('constant.character.escape', { from, to: from + 2 });
          else { stats.checks++; if (hasScope(scopes(from), 'constant.character.escape')) fail(from, 'an invalid escape'); }
          j++;
        }
        return;
      }
      if (t.type === 'ERROR_CHAR' && t.text === '\\' && prev?.type === 'UNTERMINATED_STRING' && prev.end === t.start) {
        // A backslash at the end of a line cannot escape the line break: it ends the string.
        every('invalid.illegal');
        return;
      }
      // Outside comments and strings: neither, whatever came before (an unterminated string
      // must not swallow the following lines).
      none('string.');
      none('comment.');

      if (t.type in LITERAL_SCOPES) {
        every(LITERAL_SCOPES[t.type]);
        whole();
        return;
      }
      if (isHardKeyword(t)) {
        if (t.type === 'PRODUCT') every('variable.language.product');
        else every('keyword');
        whole();
        return;
      }
      if (OPERATORS.has(t.type)) {
        let typeArgs = false;
        if (t.type === 'LT' && prev?.text === 'set' && prev.type === 'ID') { typeArgs = true; typeArgDepth++; }
        else if (t.type === 'GT' && typeArgDepth > 0) { typeArgs = true; typeArgDepth--; }
        every(typeArgs ? 'punctuation.definition.typeparameters' : 'keyword.operator');
        whole();
        return;
      }
      if (PUNCTUATION.has(t.type)) {
        every('punctuation');
        return;
      }
      if (isSoftKeyword(t)) {
        const asKeyword =
          (t.type === 'TTL' && prev?.type === 'CAP')
          || (t.type === 'OBLIGATION' && prev?.type === 'EXPECT')
          || (['CITE', 'OWNER', 'VERSION'].includes(t.type) && k === 0
              && (next?.type === 'STRING' || next?.type === 'UNTERMINATED_STRING'))
          || (t.type === 'OPTIONAL' && k === 0 && next && isName(next) && next2?.type === 'COLON');
        if (asKeyword) {
          every('keyword');
          whole();
          return;
        }
        if (prev?.type === 'DOT' || next?.type === 'COLON') none('keyword.');
      }
      if (t.type === 'ID') none('keyword.');
      if (isName(t)) {
        if (prev?.type === 'DOT') every('variable.other.member');
        else if (SECTIONS.has(t.text) && next?.type === 'DOT') every('variable.language.section');
        else if (t.text === 'now') every('variable.language.now');
        else if (prev?.type === 'POLICY') every('entity.name.type.policy');
        else if (k === 0 && next?.type === 'COLON' && RULE_KINDS.has(next2?.type)) every('entity.name.label');
        whole();
      }
    });
  });
  return { problems, stats };
}
