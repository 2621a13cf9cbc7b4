// The VS Code extension in tools/editor/vscode: its manifest points at files that exist and
// agree with each other, and it ships the same grammar as tools/editor/policy.tmLanguage.json.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, GRAMMAR_PATH, SCOPE_NAME } from './lib/textmate.mjs';

const EXT = path.join(REPO_ROOT, 'tools', 'editor', 'vscode');
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

test('the grammar declares its scope name and file type', () => {
  const grammar = readJson(GRAMMAR_PATH);
  assert.equal(grammar.scopeName, SCOPE_NAME);
  assert.deepEqual(grammar.fileTypes, ['policy']);
});

test('package.json contributes the language and its grammar', () => {
  const pkg = readJson(path.join(EXT, 'package.json'));
  assert.ok(pkg.engines?.vscode, 'engines.vscode is required by VS Code');
  const [lang] = pkg.contributes.languages;
  assert.equal(lang.id, 'mandate-policy');
  assert.deepEqual(lang.extensions, ['.policy']);
  assert.ok(fs.existsSync(path.join(EXT, lang.configuration)), `missing ${lang.configuration}`);
  const [grammar] = pkg.contributes.grammars;
  assert.equal(grammar.language, 'mandate-policy');
  assert.equal(grammar.scopeName, SCOPE_NAME);
  // Inside the extension folder, so that copying the folder is enough.
  const grammarFile = path.resolve(EXT, grammar.path);
  assert.ok(grammarFile.startsWith(EXT + path.sep), `${grammar.path} is outside the extension`);
  assert.equal(readJson(grammarFile).scopeName, SCOPE_NAME);
});

test('the extension ships the same grammar as tools/editor/policy.tmLanguage.json', () => {
  const pkg = readJson(path.join(EXT, 'package.json'));
  const shipped = path.resolve(EXT, pkg.contributes.grammars[0].path);
  assert.equal(fs.readFileSync(shipped, 'utf8'), fs.readFileSync(GRAMMAR_PATH, 'utf8'),
    `${path.relative(REPO_ROOT, shipped)} differs from tools/editor/policy.tmLanguage.json: `
    + `cp tools/editor/policy.tmLanguage.json ${path.relative(REPO_ROOT, shipped)}`);
});

test('language-configuration.json: // comments, brackets and auto-closing pairs', () => {
  const conf = readJson(path.join(EXT, 'language-configuration.json'));
  assert.equal(conf.comments.lineComment, '//');
  assert.equal(conf.comments.blockComment, undefined, 'the language has no block comments');
  assert.deepEqual(conf.brackets, [['{', '}'], ['(', ')']]);
  const pairs = conf.autoClosingPairs.map((p) => p.open + p.close);
  assert.deepEqual(pairs.sort(), ['""', '()', '{}']);
});
