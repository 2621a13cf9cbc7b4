// A full disk under the audit trail: the whole data directory lives on an 8 MiB tmpfs; once the
// space left is taken by a filler file, token requests are answered 503 temporarily_unavailable
// with no token (fail closed: a token without its record is never issued) and /readyz says the
// audit is failing; when the filler is deleted the server recovers by itself within seconds, and
// the log verifies with a record for every token a client ever received.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, eventually, describeRes } from './lib/server.mjs';
import { jtiOf, assertVerifies, assertWholeLog } from './lib/audit.mjs';

let srv, mounted = false, filler;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };
let auth;
const received = new Set();

after(async () => {
  // the server holds files on the tmpfs: stop it before unmounting, and unmount before the
  // temporary directory is removed (also when a test failed)
  await srv?.stop();
  if (mounted) {
    try { execFileSync('umount', [srv.dataDir]); } catch { execFileSync('umount', ['-l', srv.dataDir]); }
    mounted = false;
  }
  await srv?.cleanup();
});

before(async () => {
  srv = await Server.prepare('audit-diskfull');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'mandate-audit-diskfull', srv.dataDir], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`the disk-full test mounts a tmpfs on its data directory and needs root (or CAP_SYS_ADMIN); ` +
      `mount -t tmpfs failed (uid ${process.getuid?.()}): ${e.stderr?.toString().trim() || e.message}`);
  }
  mounted = true;
  filler = path.join(srv.dataDir, 'filler');
  await srv.setSubject('acct-full');
  const c = await srv.createClient({ id: 'full-client', subject: 'acct-full', ttl: 600 });
  auth = { basic: ['full-client', c.client_secret] };
  await srv.start();
});

const token = () => srv.token(cc, auth);
const readyz = async () => srv.request('GET', '/readyz');
const metric = async (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(await srv.metrics())?.[1] ?? NaN);
function keep(res) {
  const body = assertOk(res);
  received.add(jtiOf(body.access_token));
}

// Writes zeros until the file system refuses (tmpfs allocates whole pages: 4 KiB is the end).
function fillDisk(file) {
  const fd = fs.openSync(file, 'w');
  let total = 0;
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const buf = Buffer.alloc(size);
      for (;;) {
        try { total += fs.writeSync(fd, buf); } catch (e) {
          if (e.code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally { fs.closeSync(fd); }
  return total;
}

serverTest(S, 'with room on the disk: tokens are issued and /readyz says the audit is ok', async () => {
  for (let i = 0; i < 10; i++) keep(await token());
  const r = await readyz();
  assert.equal(r.status, 200, describeRes(r));
  assert.equal(r.json?.audit, 'ok', `/readyz: ${r.text}`);
  assert.equal(await metric('mandate_audit_healthy'), 1);
});

serverTest(S, 'disk full: 503 temporarily_unavailable with no token, /readyz 503 "audit":"failing"', async (t) => {
  const filled = fillDisk(filler);
  t.diagnostic(`filler: ${(filled / 1048576).toFixed(2)} MiB`);
  // What SQLite already allocated (the WAL's last page) may take a few records; new pages cannot.
  let first503 = null, sent = 0, issued = 0;
  while (!first503 && sent < 400) {
    const batch = await Promise.all(Array.from({ length: 8 }, () => token()));
    sent += batch.length;
    for (const res of batch) {
      if (res.status === 200) { keep(res); issued++; } else if (!first503) first503 = res;
    }
  }
  assert.ok(first503, `${sent} token requests on a full disk were all answered 200`);
  t.diagnostic(`first refusal within ${sent} requests on the full disk (${issued} answered 200 from space SQLite already had)`);
  for (const res of [first503, ...(await Promise.all(Array.from({ length: 6 }, () => token())))]) {
    assertOAuthError(res, 503, 'temporarily_unavailable');
    assert.equal(res.json.access_token, undefined, `a token in a 503: ${res.text}`);
    assert.equal(res.json.refresh_token, undefined);
    assert.match(String(res.json.error_description), /audit/, `error_description: ${res.json.error_description}`);
  }
  const r = await readyz();
  assert.equal(r.status, 503, `/readyz while the audit fails: ${describeRes(r)}`);
  assert.equal(r.json?.audit, 'failing', `/readyz: ${r.text}`);
  assert.equal(await metric('mandate_audit_healthy'), 0);
  assert.ok(await metric('mandate_audit_failed_total') >= 7, 'mandate_audit_failed_total counts the refused records');
  assert.ok(srv.alive(), 'server died on a full disk');
});

serverTest(S, 'filler deleted: tokens again within seconds, /readyz 200, the log verifies with a record for every token received', async (t) => {
  fs.rmSync(filler);
  const t0 = Date.now();
  let last;
  const back = await eventually(async () => {
    last = await token();
    return last.status === 200;
  }, 5000, 100);
  assert.ok(back, `no token 5 s after the disk has room again: ${describeRes(last)}`);
  t.diagnostic(`recovered ${Date.now() - t0} ms after the filler was deleted`);
  keep(last);
  for (let i = 0; i < 10; i++) keep(await token());
  const r = await readyz();
  assert.equal(r.status, 200, describeRes(r));
  assert.equal(r.json?.audit, 'ok', `/readyz: ${r.text}`);
  assert.equal(await metric('mandate_audit_healthy'), 1);

  await assertVerifies(srv.dataDir);
  const whole = await assertWholeLog(srv.dataDir);
  for (const j of received) assert.equal(whole.issued.get(j), 1, `jti ${j}: ${whole.issued.get(j) ?? 0} token.issued records`);
  // a refused request left no token.issued behind: records = tokens received
  assert.equal(whole.types['token.issued'], received.size, `token.issued records ${whole.types['token.issued']} for ${received.size} tokens received`);
});

finalChecks(S);
