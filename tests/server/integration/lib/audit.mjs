// Reading the audit trail of a running (or crashed) `mandate serve` from outside: the CLI's
// verify and export, and the raw database through the sqlite3 command line tool, so the tests
// do not trust one reader alone. Streams line by line: a crash test's log holds thousands of
// records with their input documents.
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import assert from 'node:assert/strict';

import { binary, basicAuth, formBody } from './server.mjs';
import { decode } from './tokens.mjs';

export const auditDb = (dataDir) => path.join(dataDir, 'audit.db');
export const checkpointFile = (dataDir) => path.join(dataDir, 'audit-checkpoint.txt');
export const jtiOf = (accessToken) => decode(accessToken).payload.jti;
export const sha256Hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

function run(cmd, args, { timeout = 60000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// Runs a command and hands every stdout line to `onLine`; resolves with {code, stderr}.
function streamLines(cmd, args, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => { if (stderr.length < 65536) stderr += c; });
    const rl = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
    let failure = null;
    rl.on('line', (line) => {
      if (failure) return;
      try { onLine(line); } catch (e) { failure = e; }
    });
    let closed = false, exited = null;
    const finish = () => {
      if (!closed || !exited) return;
      if (failure) reject(failure); else resolve({ ...exited, stderr });
    };
    rl.on('close', () => { closed = true; finish(); });
    child.on('error', reject);
    child.on('close', (code, signal) => { exited = { code, signal }; finish(); });
  });
}

// `mandate audit verify`: {code, stdout, stderr}. 0 intact, 1 tampered, 2 no log.
export function verify(dataDir, { checkpoint, json = false } = {}) {
  const args = ['audit', 'verify', '--data-dir', dataDir];
  if (checkpoint) args.push('--checkpoint', checkpoint);
  if (json) args.push('--json');
  return run(binary(), args);
}

// Asserts the log verifies, alone and against the checkpoint file(s) given (or the data dir's
// own audit-checkpoint.txt when it exists).
export async function assertVerifies(dataDir, anchors = []) {
  const own = checkpointFile(dataDir);
  const files = [...anchors];
  if (fs.existsSync(own)) files.push(own);
  const r = await verify(dataDir);
  assert.equal(r.code, 0, `mandate audit verify exited ${r.code}:\n${r.stdout}${r.stderr}`);
  for (const f of files) {
    const c = await verify(dataDir, { checkpoint: f });
    assert.equal(c.code, 0, `mandate audit verify --checkpoint ${f} exited ${c.code}:\n${c.stdout}${c.stderr}`);
  }
  return { checkpoints: files.length };
}

// Every record of the log through `mandate audit export --format jsonl`, optionally of one type,
// passed to `onRecord` (parsed) one at a time. Resolves with the number of records.
export async function exportEach(dataDir, onRecord, { type } = {}) {
  const args = ['audit', 'export', '--data-dir', dataDir, '--format', 'jsonl'];
  if (type) args.push('--type', type);
  let n = 0;
  const r = await streamLines(binary(), args, (line) => {
    if (!line) return;
    let rec;
    try { rec = JSON.parse(line); } catch { throw new Error(`audit export line is not JSON: ${line.slice(0, 300)}`); }
    n++;
    onRecord(rec);
  });
  assert.equal(r.code, 0, `mandate audit export exited ${r.code ?? r.signal}: ${r.stderr}`);
  return n;
}

// All records (of one type) as an array: for the small logs of the event tests.
export async function exportAll(dataDir, opts = {}) {
  const out = [];
  await exportEach(dataDir, (r) => out.push(r), opts);
  return out;
}

// The raw rows through sqlite3 (read-only, the server may be running): `onRow({seq, type, jti,
// data})` with data as the stored text, in sequence order. Resolves with the row count.
export async function rawEach(dataDir, onRow) {
  // seq and type cannot hold a tab, jti is printable ASCII, data is compact JSON (a raw tab would
  // be a control character, refused by the log): the first three tabs split the fields.
  const sql = "SELECT seq, type, jti, data FROM records ORDER BY seq";
  let n = 0;
  const r = await streamLines('sqlite3', ['-readonly', '-batch', '-noheader', '-separator', '\t', auditDb(dataDir), sql], (line) => {
    const a = line.indexOf('\t'), b = line.indexOf('\t', a + 1), c = line.indexOf('\t', b + 1);
    if (a < 0 || b < 0 || c < 0) throw new Error(`sqlite3 row without 4 fields (a record with a newline?): ${line.slice(0, 300)}`);
    n++;
    onRow({ seq: Number(line.slice(0, a)), type: line.slice(a + 1, b), jti: line.slice(b + 1, c), data: line.slice(c + 1) });
  });
  assert.equal(r.code, 0, `sqlite3 exited ${r.code ?? r.signal}: ${r.stderr}`);
  return n;
}

// sqlite3 with one query; the output's lines.
export async function sql(dataDir, query) {
  const r = await run('sqlite3', ['-readonly', '-batch', '-noheader', auditDb(dataDir), query]);
  assert.equal(r.code, 0, `sqlite3 ${query}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

// Nothing half-written: the sequence is exactly 1..N and every record's data is a JSON object.
// Returns {count, types: {type: n}, issued: Map(jti -> count)}.
export async function assertWholeLog(dataDir) {
  let expected = 1;
  const types = {};
  const issued = new Map();
  const count = await rawEach(dataDir, (row) => {
    assert.equal(row.seq, expected, `audit sequence gap or disorder: ${row.seq} where ${expected} was expected`);
    expected++;
    let d;
    try { d = JSON.parse(row.data); } catch { assert.fail(`record ${row.seq} (${row.type}): data is not JSON: ${row.data.slice(0, 200)}`); }
    assert.ok(d && typeof d === 'object' && !Array.isArray(d), `record ${row.seq}: data is not a JSON object`);
    types[row.type] = (types[row.type] ?? 0) + 1;
    if (row.type === 'token.issued') issued.set(row.jti, (issued.get(row.jti) ?? 0) + 1);
  });
  return { count, types, issued };
}

// The bytes of the audit database and its WAL (and shared memory file), as latin1 text for
// substring searches of secrets. (Not audit-checkpoint-key.pem: that one is a private key.)
export function auditBytes(dataDir) {
  let all = '';
  for (const f of fs.readdirSync(dataDir)) {
    if (/^audit\.db(-wal|-shm|-journal)?$/.test(f)) all += fs.readFileSync(path.join(dataDir, f)).toString('latin1');
  }
  assert.ok(all.length > 0, `no audit.db in ${dataDir}`);
  return all;
}

// A load generator: `workers` keep-alive connections, each sending client_credentials requests
// back to back until stop() or until its connection fails (the server was killed). Every access
// token received complete with status 200 is recorded by jti.
export function tokenLoad(port, clients, { workers = 24, scope = 'read trade' } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const jtis = [];
  const statuses = {};
  let errors = 0, broken = 0, stopped = false;
  const one = (c) => new Promise((resolve) => {
    const body = formBody({ grant_type: 'client_credentials', scope });
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/token', agent, timeout: 20000,
      headers: { authorization: basicAuth(c.id, c.secret), 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (x) => chunks.push(x));
      res.on('end', () => {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) {
          // a 200 whose body is cut short would be a server bug the caller must see: keep it
          try { jtis.push(jtiOf(JSON.parse(Buffer.concat(chunks).toString('utf8')).access_token)); } catch { broken++; }
        }
        resolve(true);
      });
      res.on('error', () => { errors++; resolve(false); });
      res.on('aborted', () => { errors++; resolve(false); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => { errors++; resolve(false); });
    req.end(body);
  });
  const loops = [];
  for (let w = 0; w < workers; w++) {
    const c = clients[w % clients.length];
    loops.push((async () => { while (!stopped && await one(c)); })());
  }
  return {
    jtis, statuses,
    get errors() { return errors; },
    get broken() { return broken; },
    async stop() { stopped = true; await Promise.all(loops); agent.destroy(); },
    done: Promise.all(loops).then(() => agent.destroy()),
  };
}
