// The shared harness of the end-to-end suite: starts one `mandate serve` per test file on a free
// port with its own data directory, talks to it over plain HTTP (node:http with a new connection
// per request, so no keep-alive pool can turn a server-side close into a flaky failure, and so
// any header can be sent as the attacker wants), drives the admin CLI, and makes sure the server
// process never outlives the test file.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { test } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../../..');
export const POLICIES = path.join(REPO_ROOT, 'policies');
// A fixed issuer that is not the listening address: the server must take its issuer from the
// configuration, never from the Host header of a request.
export const ISSUER = 'https://auth.mandate.test';
export const TOKEN_ENDPOINT = `${ISSUER}/token`;
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

// Permitted to trade everything by the reference policies (contract).
export const GOOD_SUBJECT = Object.freeze({
  kyc_tier: 3, residence: 'SG', category: 'professional', us_person: false, ecp: true,
  appropriateness: [], net_worth_usd: '5000000', onboarded: '2024-01-01T00:00:00Z',
});

export function binary() {
  const bin = process.env.MANDATE_BINARY;
  if (!bin) throw new Error('MANDATE_BINARY is not set (run through run.sh MANDATE_BINARY)');
  if (!fs.existsSync(bin)) throw new Error(`MANDATE_BINARY ${bin} does not exist`);
  return path.resolve(bin);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value or `ms` pass; returns the last value.
export async function eventually(fn, ms = 2500, step = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last || Date.now() >= deadline) return last;
    await sleep(step);
  }
}

// application/x-www-form-urlencoded value encoding (also used inside Basic credentials,
// RFC 6749 §2.3.1).
export function formEncode(s) {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}
export function formBody(params) {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${formEncode(k)}=${formEncode(String(v))}`)
    .join('&');
}
export function basicAuth(id, secret) {
  return 'Basic ' + Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64');
}

const servers = new Set();
function killAllSync() {
  for (const s of servers) {
    if (s.child && s.child.exitCode === null && s.child.signalCode === null) {
      try { s.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
    if (!process.env.MANDATE_KEEP_TMP) fs.rmSync(s.dir, { recursive: true, force: true });
  }
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllSync(); process.exit(128 + os.constants.signals[sig]); });
}

export class Server {
  constructor(dir, dataDir, policies) {
    this.dir = dir;
    this.dataDir = dataDir;
    this.policies = policies;
    this.stderrPath = path.join(dir, 'server.stderr');
    this.stdoutPath = path.join(dir, 'server.stdout');
    this.secrets = new Set(); // client secrets, access/refresh tokens: never to be logged
    this.child = null;
    this.bundle = null;
    this.port = 0;
    this.exit = null;
  }

  // A data directory with subjects and clients made before the server starts (no waiting for the
  // server to notice them); call start() after.
  static async prepare(name, { policies = POLICIES } = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mandate-it-${name}-`));
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const s = new Server(dir, dataDir, policies);
    servers.add(s);
    return s;
  }

  // For the file's top-level after(): stops the server and removes the temporary directory.
  async cleanup() {
    await this.stop();
    if (!process.env.MANDATE_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async start(extraArgs = []) {
    const portFile = path.join(this.dir, 'port');
    fs.rmSync(portFile, { force: true });
    this.port = 0; // a restart listens on a new port
    const err = fs.openSync(this.stderrPath, 'a');
    const out = fs.openSync(this.stdoutPath, 'a');
    const args = ['serve', '--data-dir', this.dataDir, '--listen', '127.0.0.1:0', '--issuer', ISSUER,
      '--policies', this.policies, '--port-file', portFile, '--threads', '2', ...extraArgs];
    this.child = spawn(binary(), args, {
      stdio: ['ignore', out, err],
      env: { ...process.env, UBSAN_OPTIONS: 'print_stacktrace=1', ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '' },
    });
    fs.closeSync(err);
    fs.closeSync(out);
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30000;
    while (!this.port) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`mandate serve exited early (${this.child.exitCode ?? this.child.signalCode}):\n${this.stderrTail()}`);
      if (Date.now() > deadline) throw new Error(`no port file after 30 s:\n${this.stderrTail()}`);
      try {
        const t = fs.readFileSync(portFile, 'utf8');
        if (t.endsWith('\n')) this.port = Number.parseInt(t, 10);
      } catch { /* not yet written */ }
      if (!this.port) await sleep(50);
    }
    const ready = await eventually(async () => {
      try { return (await this.request('GET', '/readyz')).status === 200; } catch { return false; }
    }, 20000, 100);
    if (!ready) throw new Error(`/readyz never answered 200:\n${this.stderrTail()}`);
    return this;
  }

  alive() { return this.child && this.child.exitCode === null && this.child.signalCode === null; }

  // SIGTERM, then SIGKILL after `ms`. Returns {code, signal}.
  async stop(ms = 8000) {
    if (!this.child) return null;
    if (this.alive()) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => { if (this.alive()) this.child.kill('SIGKILL'); }, ms);
      const r = await this.exit;
      clearTimeout(timer);
      return r;
    }
    return this.exit;
  }

  stderr() { try { return fs.readFileSync(this.stderrPath, 'utf8'); } catch { return ''; } }
  stderrTail(lines = 60) {
    const all = this.stderr().split('\n');
    return `--- server stderr (${this.stderrPath}), last ${lines} lines ---\n` + all.slice(-lines).join('\n');
  }

  // Records a credential or token that must never appear in the server's logs.
  remember(...values) {
    for (const v of values) if (typeof v === 'string' && v.length >= 8) this.secrets.add(v);
  }

  // ---- admin CLI ----
  cli(args, { allowFail = false } = {}) {
    return new Promise((resolve, reject) => {
      execFile(binary(), args, { timeout: 30000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (code !== 0 && !allowFail)
          reject(new Error(`mandate ${args.join(' ')} failed (${code}):\n${stderr}${stdout}`));
        else resolve({ code, stdout, stderr });
      });
    });
  }
  // subject set and client create check their input against the policy schema; a bundle built once
  // loads in a fraction of the time it takes to compile the policies for every command.
  async schemaArgs() {
    if (!this.bundle) {
      const b = path.join(this.dir, 'schema.bundle');
      await this.cli(['build', this.policies, '-o', b]);
      this.bundle = b;
    }
    return ['--bundle', this.bundle];
  }
  async setSubject(id, attrs = GOOD_SUBJECT) {
    await this.cli(['subject', 'set', id, '--data-dir', this.dataDir, ...(await this.schemaArgs()), '--attrs', JSON.stringify(attrs)]);
  }
  // Returns {client_id, client_secret?}.
  async createClient({ id, subject, auth = 'client_secret_basic', grants = ['client_credentials'],
    scope = 'read trade', kind = 'web', ttl, jwks, ipAllowlist = [] }) {
    const args = ['client', 'create', '--data-dir', this.dataDir, ...(await this.schemaArgs()), '--id', id, '--subject', subject,
      '--auth', auth, '--kind', kind, '--json'];
    for (const g of grants) args.push('--grant', g);
    if (scope !== undefined) args.push('--scope', scope);
    if (ttl !== undefined) args.push('--token-ttl', String(ttl));
    if (jwks !== undefined) {
      const f = path.join(this.dir, `jwks-${id}.json`);
      fs.writeFileSync(f, JSON.stringify(jwks));
      args.push('--jwks', f);
    }
    if (ipAllowlist.length) args.push('--ip-allowlist', ...ipAllowlist);
    const { stdout } = await this.cli(args);
    const out = JSON.parse(stdout);
    assert.equal(out.client_id, id, `client create --json: ${stdout}`);
    if (auth === 'private_key_jwt') assert.equal(out.client_secret, undefined, 'no secret for private_key_jwt');
    else assert.equal(typeof out.client_secret, 'string', `client create --json gave no secret: ${stdout}`);
    this.remember(out.client_secret);
    return out;
  }

  // ---- HTTP ----
  // One request on a fresh connection. `body` is a string or Buffer; headers are sent as given
  // (an array of [name, value] pairs may repeat a name).
  request(method, target, { headers = {}, body, timeout = 15000 } = {}) {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: this.port, method, path: target, agent: false, timeout,
        headers: Array.isArray(headers) ? headers.flat() : headers,
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, text, json, method, target });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${target}: no answer in ${timeout} ms`)));
      req.on('error', reject);
      if (body !== undefined) req.end(body); else req.end();
    });
  }

  // POST a form. `params` is an object (encoded here) or a ready string; contentType null sends none.
  post(target, params, { headers = {}, contentType = 'application/x-www-form-urlencoded' } = {}) {
    const body = typeof params === 'string' ? params : formBody(params);
    const h = { ...headers };
    if (contentType) h['content-type'] = contentType;
    return this.request('POST', target, { headers: h, body });
  }

  // /token with the client's credentials. auth: {basic: [id, secret]} | {post: [id, secret]} |
  // {assertion: jwt, clientId?} | {} (none).
  async token(params, auth = {}, opts = {}) {
    const p = { ...params };
    const headers = { ...(opts.headers ?? {}) };
    if (auth.basic) headers.authorization = basicAuth(...auth.basic);
    if (auth.post) { p.client_id = auth.post[0]; p.client_secret = auth.post[1]; }
    if (auth.assertion) {
      if (auth.clientId) p.client_id = auth.clientId;
      p.client_assertion_type = ASSERTION_TYPE;
      p.client_assertion = auth.assertion;
    }
    // a signed client assertion is a credential too (single-use, but not for the log to keep)
    if (typeof p.client_assertion === 'string' && p.client_assertion.split('.').length === 3 && p.client_assertion.length > 100)
      this.remember(p.client_assertion);
    const res = await this.post(opts.target ?? '/token', p, { headers });
    if (res.json) this.remember(res.json.access_token, res.json.refresh_token);
    return res;
  }
  introspect(token, auth) { return this.token({ token }, auth, { target: '/introspect' }); }
  revoke(token, auth, hint) { return this.token({ token, token_type_hint: hint }, auth, { target: '/revoke' }); }

  async jwks() {
    const r = await this.request('GET', '/jwks');
    assert.equal(r.status, 200, `/jwks: ${r.status} ${r.text}`);
    return r.json;
  }
  async metrics() {
    const r = await this.request('GET', '/metrics');
    assert.equal(r.status, 200, `/metrics: ${r.status}`);
    return r.text;
  }

  // Raw bytes on a socket: returns everything the server sent until it closed the connection,
  // `idleMs` passed without data after a complete-looking response, or `timeout`. Write errors
  // (the server closing early, e.g. on 413) are not failures: the answer is what counts.
  raw(bytes, { timeout = 5000, idleMs = 300, halfClose = false } = {}) {
    return new Promise((resolve) => {
      const sock = net.connect(this.port, '127.0.0.1');
      const chunks = [];
      let done = false, idle = null;
      const finish = (why) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(idle);
        sock.destroy();
        const text = Buffer.concat(chunks).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        resolve({ text, status: m ? Number(m[1]) : null, why });
      };
      const timer = setTimeout(() => finish('timeout'), timeout);
      sock.on('connect', () => {
        sock.write(bytes, () => { if (halfClose) sock.end(); });
      });
      sock.on('data', (c) => {
        chunks.push(c);
        clearTimeout(idle);
        idle = setTimeout(() => finish('idle'), idleMs);
      });
      sock.on('end', () => finish('closed'));
      sock.on('close', () => finish('closed'));
      sock.on('error', () => { if (!chunks.length) setTimeout(() => finish('error'), 50); });
    });
  }
}

// test() that prints the server's stderr when the test fails.
export function serverTest(srv, name, fn, { timeout = 30000 } = {}) {
  test(name, { timeout }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const s = typeof srv === 'function' ? srv() : srv;
      if (s) console.error(`\n[${name}] failed\n${s.stderrTail()}\n`);
      throw e;
    }
  });
}

// The last test of every file: the server survived everything the file threw at it, logged no
// credential or token, reported no sanitizer error, and stops cleanly on SIGTERM.
export function finalChecks(getServer) {
  serverTest(getServer, 'server is alive, logged JSON lines with no secret or token, and stops cleanly on SIGTERM', async () => {
    const srv = getServer();
    assert.ok(srv.alive(), `server process died (exit ${srv.child?.exitCode}, signal ${srv.child?.signalCode})`);
    const h = await srv.request('GET', '/healthz');
    assert.equal(h.status, 200, '/healthz after the file');
    let log = srv.stderr();
    for (const secret of srv.secrets) {
      assert.ok(!log.includes(secret), `server stderr contains a secret or token: ${secret.slice(0, 12)}...`);
      // a JWT's signature alone is enough to replay it with a forged-looking header
      const sig = secret.split('.')[2];
      if (sig && sig.length >= 16) assert.ok(!log.includes(sig), `server stderr contains a token signature: ${sig.slice(0, 12)}...`);
    }
    const r = await srv.stop();
    log = srv.stderr();
    assert.doesNotMatch(log, /AddressSanitizer|LeakSanitizer|runtime error:/, 'sanitizer report in server stderr');
    // the log is JSON lines (contract): nothing a client sent can break a line or forge one
    for (const line of log.split('\n').filter((l) => l.trim())) {
      let o;
      try { o = JSON.parse(line); } catch { assert.fail(`server stderr line is not JSON: ${line.slice(0, 200)}`); }
      assert.ok(o && typeof o === 'object' && typeof o.msg === 'string' && typeof o.level === 'string', `log line without msg/level: ${line.slice(0, 200)}`);
    }
    assert.deepEqual(r, { code: 0, signal: null }, 'exit status after SIGTERM');
  }, { timeout: 20000 });
}

// ---- assertions ----
export function assertNoStore(res) {
  assert.match(String(res.headers['cache-control'] ?? ''), /no-store/, `${res.target}: Cache-Control no-store missing`);
}
export function describeRes(res) {
  return `${res.method ?? ''} ${res.target ?? ''} -> ${res.status} ${res.text?.slice(0, 400)}`;
}
// An RFC 6749 §5.2 error with this status and `error` value.
export function assertOAuthError(res, status, error) {
  assert.equal(res.status, status, `expected ${status} ${error}; got ${describeRes(res)}`);
  assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${describeRes(res)}`);
  assert.equal(res.json.error, error, `expected error ${error}; got ${describeRes(res)}`);
  assertNoStore(res);
  if (status === 401)
    assert.ok(res.headers['www-authenticate'], `401 without WWW-Authenticate: ${describeRes(res)}`);
}
export function assertOk(res) {
  assert.equal(res.status, 200, `expected 200; got ${describeRes(res)}`);
  assertNoStore(res);
  return res.json;
}
