// `mandate serve` as an interop target: its own data directory, the repository's policies,
// subjects and clients registered with the admin CLI, listening on a free port of 127.0.0.1 with
// the issuer taken from the bound address (no --issuer), so discovery from the issuer URL works.
// The server process never outlives the test process: it is stopped by stop(), and killed on
// exit and on the usual termination signals.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../../..');

const live = new Set();
const dirs = new Set();
function killAllSync() {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllSync(); process.exit(128 + os.constants.signals[sig]); });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class MandateTarget {
  name = 'mandate';
  // What this server does that the peer configuration does not (the tests skip the rest there).
  features = { policyClaim: true, authorizationDetails: true, refreshToken: true, oauth2Discovery: true,
    introspectsJwt: true };

  constructor(binary) {
    if (!binary || !fs.existsSync(binary)) throw new Error(`mandate binary not found: ${binary}`);
    this.binary = path.resolve(binary);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-interop-'));
    dirs.add(this.dir);
    this.dataDir = path.join(this.dir, 'data');
    this.log = '';
  }

  cli(args) {
    return new Promise((resolve, reject) => {
      execFile(this.binary, [...args, '--data-dir', this.dataDir], { cwd: REPO_ROOT, timeout: 30_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`mandate ${args.join(' ')}: ${err.message}\n${stderr}`));
          else resolve(stdout);
        });
    });
  }

  async setSubject(id, attrs) {
    await this.cli(['subject', 'set', id, '--attrs', JSON.stringify(attrs)]);
  }

  // spec: { id, subject, auth, grants = ['client_credentials'], scope, kind, ipAllowlist (CIDRs),
  // jwks (a JWK Set object) }.
  // Resolves with { client_id, client_secret? } from `client create --json`.
  async createClient(spec) {
    const args = ['client', 'create', '--id', spec.id, '--subject', spec.subject, '--auth', spec.auth, '--json'];
    for (const g of spec.grants ?? ['client_credentials']) args.push('--grant', g);
    if (spec.scope) args.push('--scope', spec.scope);
    if (spec.kind) args.push('--kind', spec.kind);
    for (const cidr of spec.ipAllowlist ?? []) args.push('--ip-allowlist', cidr);
    if (spec.jwks) {
      const file = path.join(this.dir, `${spec.id}.jwks.json`);
      fs.writeFileSync(file, JSON.stringify(spec.jwks));
      args.push('--jwks', file);
    }
    const out = JSON.parse(await this.cli(args));
    if (out.client_id !== spec.id) throw new Error(`client create --json: client_id ${out.client_id}, expected ${spec.id}`);
    return out;
  }

  async start() {
    const portFile = path.join(this.dir, 'port');
    this.child = spawn(this.binary, [
      'serve', '--data-dir', this.dataDir, '--listen', '127.0.0.1:0', '--port-file', portFile,
      '--policies', path.join(REPO_ROOT, 'policies'),
    ], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(this.child);
    this.child.stderr.on('data', (d) => { this.log = (this.log + d).slice(-20_000); });
    this.child.on('exit', () => live.delete(this.child));

    const deadline = Date.now() + 30_000;
    let port;
    while (!port) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`mandate serve exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.log}`);
      }
      if (Date.now() > deadline) throw new Error(`mandate serve wrote no port file in 30 s:\n${this.log}`);
      const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8') : '';
      if (/^\d+\n$/.test(text)) port = Number(text.trim());
      else await sleep(50);
    }
    this.base = `http://127.0.0.1:${port}`;
    this.issuer = new URL(this.base);
    for (;;) {
      const res = await fetch(`${this.base}/readyz`).catch(() => undefined);
      if (res?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`mandate serve: /readyz not 200 within 30 s:\n${this.log}`);
      await sleep(50);
    }
  }

  async stop() {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    dirs.delete(this.dir);
  }
}
