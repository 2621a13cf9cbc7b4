// Loads tools/editor/policy.tmLanguage.json with vscode-textmate and vscode-oniguruma (the
// engine VS Code itself uses) and tokenizes text into per-line tokens with their scopes.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import vsctm from 'vscode-textmate';
import oniguruma from 'vscode-oniguruma';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const GRAMMAR_PATH = path.join(REPO_ROOT, 'tools', 'editor', 'policy.tmLanguage.json');
export const SCOPE_NAME = 'source.mandate-policy';

// Per line: tokenizing a line of a policy file should take microseconds.
export const LINE_TIME_LIMIT_MS = 2000;

let grammarPromise = null;

/** The compiled grammar (loaded once; the path may be overridden for experiments). */
export function loadGrammar(grammarPath = process.env.MANDATE_TM_GRAMMAR || GRAMMAR_PATH) {
  if (grammarPromise) return grammarPromise;
  grammarPromise = (async () => {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new vsctm.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
        createOnigString: (s) => new oniguruma.OnigString(s),
      }),
      loadGrammar: async (scopeName) => {
        if (scopeName !== SCOPE_NAME) return null;
        const text = fs.readFileSync(grammarPath, 'utf8');
        return vsctm.parseRawGrammar(text, grammarPath);
      },
    });
    const grammar = await registry.loadGrammar(SCOPE_NAME);
    if (!grammar) throw new Error(`cannot load ${grammarPath}`);
    return grammar;
  })();
  return grammarPromise;
}

/**
 * Tokenizes lines (already split). Returns, per line, {tokens: [{start, end, scopes}],
 * stoppedEarly, ms}. Throws with the line number if the tokenizer throws.
 */
export function tokenizeLines(grammar, lines, { where = '<text>' } = {}) {
  let state = vsctm.INITIAL;
  const out = [];
  lines.forEach((line, i) => {
    let result;
    const t0 = performance.now();
    try {
      result = grammar.tokenizeLine(line, state, LINE_TIME_LIMIT_MS);
    } catch (e) {
      throw new Error(`${where}:${i + 1}: tokenizer threw: ${e.stack || e}`);
    }
    const ms = performance.now() - t0;
    const tokens = result.tokens.map((t, k) => ({
      start: t.startIndex,
      end: k + 1 < result.tokens.length ? result.tokens[k + 1].startIndex : line.length,
      scopes: t.scopes,
    }));
    // For each character, the index of its token (scopesAt in constant time).
    const tokenOf = new Int32Array(line.length);
    tokens.forEach((t, k) => tokenOf.fill(k, t.start, t.end));
    out.push({ tokens, tokenOf, stoppedEarly: result.stoppedEarly, ms });
    state = result.ruleStack;
  });
  return out;
}

/** Scopes (outermost first) of the character at column `col` of a tokenized line. */
export function scopesAt(tokenizedLine, col) {
  if (col < 0 || col >= tokenizedLine.tokenOf.length) return null;
  return tokenizedLine.tokens[tokenizedLine.tokenOf[col]].scopes;
}

export const hasScope = (scopes, prefix) =>
  scopes.some((s) => s === prefix || s.startsWith(prefix + '.'));
