// SIGHUP policy reload on a private copy of policies/: a broken policy directory is refused and
// the old bundle keeps deciding (no fail-open, no outage); a fixed one goes live, and its hash
// shows in new tokens and in /metrics.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, eventually, sleep, POLICIES } from './lib/server.mjs';
import { decode } from './lib/tokens.mjs';

let srv, policies, tiers, original;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };
let C;

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('reload');
  policies = path.join(srv.dir, 'policies');
  fs.cpSync(POLICIES, policies, { recursive: true });
  srv.policies = policies;
  tiers = path.join(policies, 'kyc', 'tiers.policy');
  original = fs.readFileSync(tiers, 'utf8');
  await srv.setSubject('acct-good');
  C = await srv.createClient({ id: 'reloader', subject: 'acct-good' });
  await srv.start();
});

const tokenHash = async () => decode(assertOk(await srv.token(cc, { basic: ['reloader', C.client_secret] })).access_token).payload.policy;
const metricHash = async () => /mandate_policy_info\{hash="([^"]+)"\} 1/.exec(await srv.metrics())?.[1];
const reloads = async (result) => Number(new RegExp(`mandate_policy_reloads_total\\{result="${result}"\\} (\\d+)`).exec(await srv.metrics())?.[1] ?? NaN);

let h1;

serverTest(S, 'the starting bundle\'s hash is in tokens and /metrics', async () => {
  h1 = await tokenHash();
  assert.match(h1, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await metricHash(), h1);
  assert.equal(await tokenHash(), h1, 'stable between tokens');
});

serverTest(S, 'SIGHUP with a broken policy file: refused, tokens keep the old hash', async () => {
  assert.ok(h1, 'needs the first test');
  const refusedBefore = await reloads('refused');
  fs.writeFileSync(tiers, original + '\npolicy broken "unterminated" {\n  read: permit read because \n');
  srv.child.kill('SIGHUP');
  assert.ok(await eventually(async () => (await reloads('refused')) === refusedBefore + 1, 3000),
    `no refused reload counted (refused=${await reloads('refused')})`);
  assert.ok(srv.alive(), 'server died on SIGHUP with a broken policy');
  assert.equal(await tokenHash(), h1, 'tokens changed policy after a refused reload');
  assert.equal(await metricHash(), h1);
  // the subject still gets what the old bundle grants (no fail-open, no fail-closed outage)
  const body = assertOk(await srv.token(cc, { basic: ['reloader', C.client_secret] }));
  assert.deepEqual(body.scope.split(' ').sort(), ['read', 'trade']);
});

serverTest(S, 'SIGHUP with a missing schema or an empty directory: refused too', async () => {
  const schema = path.join(policies, 'schema.policy');
  const schemaText = fs.readFileSync(schema, 'utf8');
  fs.writeFileSync(tiers, original);
  fs.rmSync(schema);
  let refused = await reloads('refused');
  srv.child.kill('SIGHUP');
  assert.ok(await eventually(async () => (await reloads('refused')) === refused + 1, 3000), 'missing schema not refused');
  assert.equal(await tokenHash(), h1);
  fs.writeFileSync(schema, schemaText);
  // a policy that compiles but denies by an evaluation error is a valid bundle; we only check
  // that a directory without any permit (only the schema) is not taken as "permit nothing" silently
  const moved = path.join(srv.dir, 'kyc-moved');
  fs.renameSync(path.join(policies, 'kyc'), moved);
  refused = await reloads('refused');
  const ok = await reloads('ok');
  srv.child.kill('SIGHUP');
  await eventually(async () => (await reloads('refused')) + (await reloads('ok')) > refused + ok, 3000);
  // either refused, or live: but then the decision follows the policy text (no permits)
  if ((await reloads('ok')) > ok) {
    const res = await srv.token(cc, { basic: ['reloader', C.client_secret] });
    assert.equal(res.status, 400, 'a bundle without permits still issued a token');
  } else {
    assert.equal(await tokenHash(), h1);
  }
  fs.renameSync(moved, path.join(policies, 'kyc'));
});

serverTest(S, 'SIGHUP after the fix: the new hash appears in tokens and /metrics', async () => {
  // a real change: the text of a reason is part of the bundle
  const changed = original.replace('Balances and history are visible at every tier', 'Balances and history are visible at every tier (reloaded)');
  assert.notEqual(changed, original);
  fs.writeFileSync(tiers, changed);
  const okBefore = await reloads('ok');
  srv.child.kill('SIGHUP');
  assert.ok(await eventually(async () => (await reloads('ok')) === okBefore + 1, 3000), 'reload not counted as ok');
  const h2 = await metricHash();
  assert.match(h2, /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(h2, h1, 'hash did not change');
  assert.equal(await tokenHash(), h2, 'new tokens carry the new hash');
});

serverTest(S, 'a burst of SIGHUPs while issuing: every request answered, one hash at a time', async () => {
  const live = await metricHash();
  const requests = [];
  for (let i = 0; i < 10; i++) {
    srv.child.kill('SIGHUP');
    requests.push(srv.token(cc, { basic: ['reloader', C.client_secret] }));
    await sleep(20);
  }
  const results = await Promise.all(requests);
  for (const r of results) {
    assertOk(r);
    assert.equal(decode(r.json.access_token).payload.policy, live, 'the same text gives the same hash');
  }
  assert.ok(srv.alive());
});

finalChecks(S);
