// A reference lexer for the policy language: a direct port of the lexer rules of
// grammar/Policy.g4, used as the oracle the TextMate grammar is checked against.
//
// Like the ANTLR lexer it takes the longest match at each position and, on a tie, the rule
// defined first (keywords before ID, UNDERSCORE before ID). Each rule is scanned by hand
// rather than with a regular expression, so that its longest-match behaviour does not depend
// on regex alternation order (which is what the TextMate grammar relies on).
//
// Tokens never span lines (only WS can contain a line break), so lexing line by line is
// equivalent to lexing the file; lines are split as editors do, on \r\n, \r and \n.

export const HARD_KEYWORDS = [
  'import', 'const', 'schema', 'enum', 'actions', 'products', 'limits', 'policy',
  'permit', 'deny', 'limit', 'require', 'cap', 'on', 'for', 'when', 'because', 'all',
  'test', 'given', 'expect', 'and', 'or', 'not', 'in', 'has', 'match', 'product', 'true', 'false',
];
export const SOFT_KEYWORDS = ['cite', 'owner', 'version', 'optional', 'ttl', 'obligation'];

// Lexer rule order of Policy.g4 (the keyword rules come first; soft keywords are keyword
// tokens too, the parser accepts them as names).
const KEYWORD_ORDER = [
  'import', 'const', 'schema', 'enum', 'actions', 'products', 'limits', 'optional',
  'policy', 'cite', 'owner', 'version', 'permit', 'deny', 'limit', 'require',
  'cap', 'ttl', 'on', 'for', 'when', 'because', 'all', 'test',
  'given', 'expect', 'obligation', 'and', 'or', 'not', 'in',
  'has', 'match', 'product', 'true', 'false',
];
const KEYWORDS = new Set(KEYWORD_ORDER);

const OPERATORS = [
  ['==', 'EQ'], ['!=', 'NE'], ['<=', 'LE'], ['>=', 'GE'], ['<', 'LT'], ['>', 'GT'],
  ['=>', 'ARROW'], ['=', 'ASSIGN'], ['+', 'PLUS'], ['-', 'MINUS'], ['*', 'STAR'], ['/', 'SLASH'],
  ['{', 'LBRACE'], ['}', 'RBRACE'], ['(', 'LPAREN'], [')', 'RPAREN'],
  [',', 'COMMA'], [':', 'COLON'], [';', 'SEMI'], ['.', 'DOT'], ['|', 'PIPE'], ['_', 'UNDERSCORE'],
];

const isDigit = (c) => c >= '0' && c <= '9';
const isUpper = (c) => c >= 'A' && c <= 'Z';
const isIdStart = (c) => (c >= 'a' && c <= 'z') || isUpper(c) || c === '_';
const isIdPart = (c) => isIdStart(c) || isDigit(c);

function digitRun(s, p) {
  let i = p;
  while (i < s.length && isDigit(s[i])) i++;
  return i - p;
}

// Each scanner returns the end of its longest match at p, or -1.

function scanTime(s, p) {
  const shape = (q, pattern) => {
    for (let k = 0; k < pattern.length; k++) {
      const c = s[q + k];
      if (c === undefined) return false;
      if (pattern[k] === 'D' ? !isDigit(c) : c !== pattern[k]) return false;
    }
    return true;
  };
  if (!shape(p, 'DDDD-DD-DD')) return -1;
  const date = p + 10;
  if (shape(date, 'TDD:DD:DDZ')) return date + 10;
  if (shape(date, 'TDD:DDZ')) return date + 7;
  return date;
}

// OCTET '.' OCTET '.' OCTET '.' OCTET, OCTET being one to three digits. Returns the position
// after the third dot and the digit run that follows it, or null.
function threeOctets(s, p) {
  let i = p;
  for (let k = 0; k < 3; k++) {
    const n = digitRun(s, i);
    if (n < 1 || n > 3 || s[i + n] !== '.') return null;
    i += n + 1;
  }
  const last = digitRun(s, i);
  return last >= 1 ? { at: i, run: last } : null;
}

function scanIpv4(s, p) {
  const o = threeOctets(s, p);
  return o ? o.at + Math.min(o.run, 3) : -1;
}

function scanCidr(s, p) {
  const o = threeOctets(s, p);
  if (!o || o.run > 3 || s[o.at + o.run] !== '/') return -1;
  const slash = o.at + o.run;
  const prefix = digitRun(s, slash + 1);
  return prefix >= 1 ? slash + 1 + prefix : -1;
}

// (DIGIT+ ('ms' | 's' | 'm' | 'h' | 'd'))+ : explore every way to match, keep the longest.
function scanDuration(s, p) {
  let best = -1;
  let frontier = new Set([p]);
  while (frontier.size > 0) {
    const next = new Set();
    for (const q of frontier) {
      const n = digitRun(s, q);
      if (n === 0) continue;
      // DIGIT+ may also stop early, but a unit letter must follow, so only the full run counts.
      const u = q + n;
      for (const unit of ['ms', 's', 'm', 'h', 'd']) {
        if (s.startsWith(unit, u)) {
          const e = u + unit.length;
          best = Math.max(best, e);
          next.add(e);
        }
      }
    }
    frontier = next;
  }
  return best;
}

function digitsAndUnderscores(s, p) {
  if (!isDigit(s[p] ?? '')) return -1;
  let i = p + 1;
  while (i < s.length && (isDigit(s[i]) || s[i] === '_')) i++;
  return i;
}

function scanDecimal(s, p) {
  const i = digitsAndUnderscores(s, p);
  if (i < 0 || s[i] !== '.') return -1;
  return digitsAndUnderscores(s, i + 1);
}

const scanInt = digitsAndUnderscores;

function scanRegion(s, p) {
  if (!isUpper(s[p] ?? '') || !isUpper(s[p + 1] ?? '') || s[p + 2] !== '-') return -1;
  let i = p + 3;
  while (i < s.length && (isUpper(s[i]) || isDigit(s[i]))) i++;
  return i > p + 3 ? i : -1;
}

function scanId(s, p) {
  if (!isIdStart(s[p] ?? '')) return -1;
  let i = p + 1;
  while (i < s.length && isIdPart(s[i])) i++;
  return i;
}

// STRING and UNTERMINATED_STRING: returns [end, terminated].
function scanString(s, p) {
  if (s[p] !== '"') return null;
  let i = p + 1;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') return [i + 1, true];
    if (c === '\r' || c === '\n') break;
    if (c === '\\') {
      if (i + 1 >= s.length || s[i + 1] === '\r' || s[i + 1] === '\n') break;
      i += 2;
    } else {
      i += 1;
    }
  }
  return [i, false];
}

/** Lex one line (without its line break). Returns [{type, text, start, end}], WS skipped. */
export function lexLine(line) {
  const tokens = [];
  let p = 0;
  while (p < line.length) {
    // Candidates in rule order; the longest wins, the first on a tie.
    let best = null;
    const offer = (type, end) => {
      if (end > p && (best === null || end > best.end)) best = { type, end };
    };
    for (const kw of KEYWORD_ORDER) {
      if (line.startsWith(kw, p)) offer(kw.toUpperCase(), p + kw.length);
    }
    for (const [text, type] of OPERATORS) {
      if (line.startsWith(text, p)) offer(type, p + text.length);
    }
    offer('TIME', scanTime(line, p));
    offer('CIDR4', scanCidr(line, p));
    offer('IPV4', scanIpv4(line, p));
    offer('DURATION', scanDuration(line, p));
    offer('DECIMAL', scanDecimal(line, p));
    offer('INT', scanInt(line, p));
    offer('REGION', scanRegion(line, p));
    offer('ID', scanId(line, p));
    const str = scanString(line, p);
    if (str) offer(str[1] ? 'STRING' : 'UNTERMINATED_STRING', str[0]);
    if (line.startsWith('//', p)) offer('LINE_COMMENT', line.length);
    let ws = p;
    while (ws < line.length && ' \t\r\n'.includes(line[ws])) ws++;
    offer('WS', ws);
    const cp = line.codePointAt(p);
    offer('ERROR_CHAR', p + (cp > 0xffff ? 2 : 1));

    if (best.type !== 'WS') {
      tokens.push({ type: best.type, text: line.slice(p, best.end), start: p, end: best.end });
    }
    p = best.end;
  }
  return tokens;
}

export const splitLines = (text) => text.split(/\r\n|\r|\n/);

export const isKeywordToken = (t) => KEYWORDS.has(t.text) && t.type === t.text.toUpperCase();
export const isHardKeyword = (t) => isKeywordToken(t) && HARD_KEYWORDS.includes(t.text);
export const isSoftKeyword = (t) => isKeywordToken(t) && SOFT_KEYWORDS.includes(t.text);
/** A name in the parser's sense: ID or a soft keyword. */
export const isName = (t) => t.type === 'ID' || isSoftKeyword(t);
