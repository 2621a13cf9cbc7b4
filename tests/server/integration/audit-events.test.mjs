// Every record type of the audit contract, produced through the real endpoints and the admin
// CLI while the server runs, read back with `mandate audit export` and checked field by field
// against what the client saw (the token's claims, the error answered); secrets and tokens never
// reach the audit database (its raw bytes are searched), and the log verifies at the end.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, eventually, GOOD_SUBJECT, POLICIES } from './lib/server.mjs';
import { decode, grantedActions, productsOf } from './lib/tokens.mjs';
import { exportAll, assertVerifies, assertWholeLog, auditBytes, sha256Hex } from './lib/audit.mjs';

let srv, policies, tiers, original;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };
const ADMIN = os.userInfo().username;
let C, KP, LONG;
const basic = (c) => ({ basic: [c.client_id, c.client_secret] });
const clientSecrets = [];

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('audit-events');
  policies = path.join(srv.dir, 'policies');
  fs.cpSync(POLICIES, policies, { recursive: true });
  srv.policies = policies;
  tiers = path.join(policies, 'kyc', 'tiers.policy');
  original = fs.readFileSync(tiers, 'utf8');
  await srv.setSubject('acct-ev', GOOD_SUBJECT);
  await srv.setSubject('acct-ev-kp', { ...GOOD_SUBJECT, residence: 'KP' });
  C = await srv.createClient({ id: 'ev-client', subject: 'acct-ev', grants: ['client_credentials', 'refresh_token'], ttl: 600 });
  KP = await srv.createClient({ id: 'ev-kp', subject: 'acct-ev-kp', ttl: 600 });
  LONG = await srv.createClient({ id: 'ev-long-ttl', subject: 'acct-ev', ttl: 86400 });
  clientSecrets.push(C.client_secret, KP.client_secret, LONG.client_secret);
  await srv.start();
});

const records = (type) => exportAll(srv.dataDir, { type });
// The records of `type` appended while `fn` ran (the log only grows; a response is sent after its
// record is durable, and the CLI returns after appendSync).
async function during(type, fn) {
  const seen = (await records(type)).length;
  const result = await fn();
  return { result, added: (await records(type)).slice(seen) };
}
async function one(type, fn) {
  const { result, added } = await during(type, fn);
  assert.equal(added.length, 1, `expected one new ${type} record, got ${added.length}: ${JSON.stringify(added).slice(0, 600)}`);
  return { result, rec: added[0] };
}
const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
let livePolicy;

serverTest(S, 'policy.loaded at start: actor.admin "server", the hash tokens carry, the source', async () => {
  const loaded = await records('policy.loaded');
  assert.equal(loaded.length, 1, `policy.loaded records after one start: ${loaded.length}`);
  const r = loaded[0];
  livePolicy = decode(assertOk(await srv.token(cc, basic(C))).access_token).payload.policy;
  assert.deepEqual(r.actor, { admin: 'server' });
  assert.equal(r.policy_hash, livePolicy, 'policy_hash is the bundle tokens are issued under');
  assert.equal(typeof r.data.source, 'string');
  assert.ok(r.data.source.length > 0, 'data.source names where the policies came from');
  assert.equal(r.data.error, undefined);
  assert.equal(r.jti, '');
});

let issuedFamily, firstRefresh;

serverTest(S, 'token.issued: actor, jti, policy hash, request, decision equal to the token\'s claims, input with the subject', async () => {
  const { result: body, rec } = await one('token.issued', async () => assertOk(await srv.token(cc, basic(C))));
  const claims = decode(body.access_token).payload;
  assert.deepEqual(rec.actor, { client: 'ev-client', subject: 'acct-ev' });
  assert.equal(rec.jti, claims.jti);
  assert.equal(rec.policy_hash, claims.policy);
  assert.equal(rec.source_ip, '127.0.0.1');
  const d = rec.data;
  assert.equal(d.grant_type, 'client_credentials');
  assert.ok(isObject(d.request), 'data.request');
  assert.equal(d.request.scope, 'read trade');
  assert.equal(d.request.authorization_details, undefined, 'not asked');
  assert.ok(isObject(d.requested), 'data.requested');
  assert.deepEqual(Object.keys(d.requested).sort(), ['read', 'trade'], `requested: ${JSON.stringify(d.requested)}`);
  // An action asked for with every product class is written "*"; otherwise the classes are listed.
  for (const v of Object.values(d.requested)) assert.ok(Array.isArray(v) || v === '*', `requested: ${JSON.stringify(v)}`);
  assert.equal(d.requested.trade, '*', 'all of trade was asked for (scope "read trade")');
  assert.ok(isObject(d.decision), 'data.decision');
  assert.deepEqual(d.decision.authorization_details, claims.authorization_details, 'decision.authorization_details = the token\'s claim');
  assert.deepEqual(body.authorization_details, claims.authorization_details);
  assert.equal(d.decision.scope, claims.scope);
  assert.ok(isObject(d.decision.granted));
  assert.deepEqual(Object.keys(d.decision.granted).sort(), grantedActions(claims.authorization_details), `granted: ${JSON.stringify(d.decision.granted)}`);
  // Granted cells are always listed (a later schema's new classes were never granted).
  assert.deepEqual([...d.decision.granted.trade].sort(), productsOf(claims.authorization_details, 'trade'));
  assert.ok(Array.isArray(d.decision.denied) && Array.isArray(d.decision.errors), 'denied and errors are arrays');
  assert.ok(isObject(d.token));
  assert.equal(d.token.exp, claims.exp);
  assert.equal(d.token.refresh, true, 'a refresh token was issued with it');
  assert.equal(typeof d.token.family, 'string');
  assert.ok(d.token.family.length > 0);
  assert.ok(isObject(d.input), 'data.input');
  assert.equal(d.input.subject?.residence, GOOD_SUBJECT.residence, `input.subject: ${JSON.stringify(d.input.subject)}`);
  assert.equal(d.input.subject?.kyc_tier, GOOD_SUBJECT.kyc_tier);
  assert.equal(d.input.subject?.category, GOOD_SUBJECT.category);
  assert.ok(isObject(d.input.client) && isObject(d.input.request), `input: ${JSON.stringify(d.input).slice(0, 400)}`);
  issuedFamily = d.token.family;
  firstRefresh = body.refresh_token;
});

serverTest(S, 'token.issued with authorization_details: the request is recorded as asked', async () => {
  const ask = [{ type: 'trading', actions: ['trade'], product_classes: ['spot'] }];
  const { result: body, rec } = await one('token.issued', async () =>
    assertOk(await srv.token({ grant_type: 'client_credentials', authorization_details: JSON.stringify(ask) }, basic(C))));
  const claims = decode(body.access_token).payload;
  assert.equal(rec.jti, claims.jti);
  assert.deepEqual(rec.data.request.authorization_details, ask);
  assert.equal(rec.data.request.scope, undefined);
  assert.deepEqual(rec.data.requested, { trade: ['spot'] });
  assert.deepEqual(rec.data.decision.authorization_details, claims.authorization_details);
  assert.deepEqual(rec.data.decision.granted, { trade: ['spot'] });
});

serverTest(S, 'token.issued under an obligation: the policy\'s TTL cap is recorded with the capped exp', async () => {
  const { result: body, rec } = await one('token.issued', async () => assertOk(await srv.token({ ...cc, scope: 'read' }, basic(LONG))));
  const claims = decode(body.access_token).payload;
  assert.equal(claims.exp - claims.iat, 3600, 'the reference policies cap a web client at 1 hour');
  assert.equal(rec.data.decision.obligations?.ttl_cap_s, 3600, `obligations: ${JSON.stringify(rec.data.decision.obligations)}`);
  assert.equal(rec.data.token.exp, claims.exp);
  assert.equal(rec.data.token.refresh, false, 'no refresh grant, no refresh token');
  assert.equal(rec.data.token.family, undefined);
});

serverTest(S, 'token.denied: a sanctioned residence; the error answered, the denying rules, nothing granted, no jti', async () => {
  const { result: res, rec } = await one('token.denied', async () => srv.token(cc, basic(KP)));
  assertOAuthError(res, 400, 'invalid_scope');
  assert.match(res.json.error_description, /ofac_sanctions\.residence/);
  assert.deepEqual(rec.actor, { client: 'ev-kp', subject: 'acct-ev-kp' });
  assert.equal(rec.jti, '');
  assert.equal(rec.policy_hash, livePolicy);
  const d = rec.data;
  assert.equal(d.grant_type, 'client_credentials');
  assert.deepEqual(d.error, { error: 'invalid_scope', error_description: res.json.error_description });
  assert.deepEqual(d.decision.granted, {});
  assert.equal(d.token, undefined, 'no token part in a denial');
  assert.ok(Array.isArray(d.decision.denied) && d.decision.denied.length > 0, `denied: ${JSON.stringify(d.decision.denied)}`);
  const ids = d.decision.denied.map((x) => x.rule);
  for (const x of d.decision.denied) {
    assert.equal(typeof x.reason, 'string');
    assert.ok(isObject(x.cells), `denied cells: ${JSON.stringify(x)}`);
  }
  // the rule ids the client was told are the ones recorded (the description lists up to 5)
  const told = [...res.json.error_description.matchAll(/(?:denied by |; )([a-z0-9_]+(?:\.[a-z0-9_]+)+)(?= \(|;|$)/g)].map((m) => m[1]);
  assert.ok(told.length > 0, `no rule id in ${res.json.error_description}`);
  assert.deepEqual(told.sort(), [...ids].sort().slice(0, 5).sort(), `told ${told} recorded ${ids}`);
  assert.ok(ids.includes('ofac_sanctions.residence'));
  assert.equal(d.input.subject?.residence, 'KP');
});

serverTest(S, 'client.auth_failed: registered client with a wrong secret names it, an unknown one does not; the secret is never recorded', async () => {
  const wrong = `wrong-${crypto.randomBytes(12).toString('hex')}`;
  const unknownSecret = `unknown-${crypto.randomBytes(12).toString('hex')}`;
  let { result: res, rec } = await one('client.auth_failed', async () => srv.token(cc, { basic: ['ev-client', wrong] }));
  assertOAuthError(res, 401, 'invalid_client');
  assert.deepEqual(rec.actor, { client: 'ev-client' });
  assert.equal(rec.data.endpoint, '/token');
  assert.equal(typeof rec.data.reason, 'string');
  assert.ok(rec.data.reason.length > 0);
  assert.equal(rec.source_ip, '127.0.0.1');

  ({ result: res, rec } = await one('client.auth_failed', async () => srv.introspect('anything-at-all', { basic: ['no-such-client', unknownSecret] })));
  assertOAuthError(res, 401, 'invalid_client');
  assert.ok(!rec.actor.client, `unknown client named in actor: ${JSON.stringify(rec.actor)}`);
  assert.equal(rec.data.endpoint, '/introspect');
  assert.ok(!JSON.stringify(rec).includes('no-such-client'), 'an unregistered client id is recorded');

  ({ result: res, rec } = await one('client.auth_failed', async () => srv.revoke('anything-at-all', { post: ['ev-client', wrong] })));
  assertOAuthError(res, 401, 'invalid_client');
  assert.equal(rec.data.endpoint, '/revoke');
  assert.deepEqual(rec.actor, { client: 'ev-client' });

  const all = JSON.stringify(await exportAll(srv.dataDir));
  const raw = auditBytes(srv.dataDir);
  for (const s of [wrong, unknownSecret]) {
    assert.ok(!all.includes(s), 'a presented secret is in the exported log');
    assert.ok(!raw.includes(s), 'a presented secret is in the audit database files');
    assert.ok(!raw.includes(sha256Hex(s)), 'a presented secret\'s hash is in the audit database files');
  }
});

serverTest(S, 'token.introspected: caller, jti of an active access token, active and token_type', async () => {
  const body = assertOk(await srv.token(cc, basic(C)));
  const jti = decode(body.access_token).payload.jti;
  let { result: res, rec } = await one('token.introspected', async () => srv.introspect(body.access_token, basic(C)));
  assert.equal(res.json?.active, true);
  assert.equal(rec.actor.client, 'ev-client');
  assert.equal(rec.jti, jti);
  assert.deepEqual(rec.data, { active: true, token_type: 'access_token' });

  ({ result: res, rec } = await one('token.introspected', async () => srv.introspect(body.refresh_token, basic(C))));
  assert.equal(res.json?.active, true);
  assert.equal(rec.data.active, true);
  assert.equal(rec.data.token_type, 'refresh_token');

  ({ result: res, rec } = await one('token.introspected', async () => srv.introspect('not-a-token-at-all', basic(KP))));
  assert.deepEqual(res.json, { active: false });
  assert.equal(rec.actor.client, 'ev-kp');
  assert.equal(rec.jti, '');
  assert.equal(rec.data.active, false);
});

serverTest(S, 'token.revoked: access token with its jti, refresh token with its family, an unknown token', async () => {
  const body = assertOk(await srv.token(cc, basic(C)));
  const jti = decode(body.access_token).payload.jti;
  const issued = (await records('token.issued')).find((r) => r.jti === jti);
  assert.ok(issued, 'token.issued of the token to revoke');
  let { result: res, rec } = await one('token.revoked', async () => srv.revoke(body.access_token, basic(C)));
  assert.equal(res.status, 200);
  assert.equal(rec.actor.client, 'ev-client');
  assert.equal(rec.jti, jti);
  assert.equal(rec.data.revoked, true);
  assert.equal(rec.data.token_type, 'access_token');

  ({ result: res, rec } = await one('token.revoked', async () => srv.revoke(body.refresh_token, basic(C), 'refresh_token')));
  assert.equal(res.status, 200);
  assert.equal(rec.data.revoked, true);
  assert.equal(rec.data.token_type, 'refresh_token');
  assert.equal(rec.data.family, issued.data.token.family, 'the revoked refresh token\'s family');

  ({ result: res, rec } = await one('token.revoked', async () => srv.revoke('not-a-token-at-all', basic(C))));
  assert.equal(res.status, 200, 'RFC 7009: an unknown token is answered 200');
  assert.equal(rec.data.revoked, false);
  assert.equal(rec.jti, '');
});

serverTest(S, 'refresh: token.issued with grant_type refresh_token, then refresh.reuse_detected with the family', async () => {
  assert.ok(firstRefresh, 'needs the token.issued test');
  const refresh = (rt) => srv.token({ grant_type: 'refresh_token', refresh_token: rt }, basic(C));
  const { result: second, rec: issued } = await one('token.issued', async () => assertOk(await refresh(firstRefresh)));
  assert.equal(issued.data.grant_type, 'refresh_token');
  assert.equal(issued.jti, decode(second.access_token).payload.jti);
  assert.equal(issued.data.token.family, issuedFamily, 'a rotated refresh token stays in its family');
  assert.deepEqual(issued.actor, { client: 'ev-client', subject: 'acct-ev' });
  const { result: res, rec } = await one('refresh.reuse_detected', async () => refresh(firstRefresh));
  assertOAuthError(res, 400, 'invalid_grant');
  assert.deepEqual(rec.actor, { client: 'ev-client', subject: 'acct-ev' });
  assert.equal(rec.data.family, issuedFamily);
  assert.ok(!JSON.stringify(rec).includes(firstRefresh), 'the refresh token itself is recorded');
});

serverTest(S, 'SIGHUP: policy.refused with the still-live hash and the error, then policy.loaded with the new hash', async () => {
  fs.writeFileSync(tiers, original + '\npolicy broken "unterminated" {\n  read: permit read because \n');
  const refusedBefore = (await records('policy.refused')).length;
  srv.child.kill('SIGHUP');
  const newer = async (type, n) => { const a = (await records(type)).slice(n); return a.length ? a : null; };
  const refused = (await eventually(() => newer('policy.refused', refusedBefore), 5000)) ?? [];
  assert.equal(refused.length, 1, 'no policy.refused record 5 s after SIGHUP with a broken policy');
  const r = refused[0];
  assert.deepEqual(r.actor, { admin: 'server' });
  assert.equal(r.policy_hash, livePolicy, 'policy_hash is the bundle still live');
  assert.equal(typeof r.data.error, 'string');
  assert.ok(r.data.error.length > 0);
  assert.equal(typeof r.data.source, 'string');

  fs.writeFileSync(tiers, original.replace('Balances and history are visible at every tier', 'Balances and history are visible at every tier (audited reload)'));
  const loadedBefore = (await records('policy.loaded')).length;
  srv.child.kill('SIGHUP');
  const loaded = (await eventually(() => newer('policy.loaded', loadedBefore), 5000)) ?? [];
  assert.equal(loaded.length, 1, 'no policy.loaded record 5 s after SIGHUP with a fixed policy');
  const h2 = loaded[0].policy_hash;
  assert.match(h2, /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(h2, livePolicy);
  assert.deepEqual(loaded[0].actor, { admin: 'server' });
  assert.equal(loaded[0].data.error, undefined);
  const { result: body, rec } = await one('token.issued', async () => assertOk(await srv.token(cc, basic(C))));
  assert.equal(decode(body.access_token).payload.policy, h2);
  assert.equal(rec.policy_hash, h2);
  livePolicy = h2;
});

// An admin record: actor.admin is the OS user, data {id, before, after}, no secret anywhere.
// (key.rotated may record the key set, an array, as its before and after.)
function assertAdmin(rec, id, { list = false } = {}) {
  assert.deepEqual(rec.actor, { admin: ADMIN }, `actor of ${rec.type}`);
  assert.equal(rec.data.id, id, `${rec.type}: data.id`);
  assert.ok('before' in rec.data && 'after' in rec.data, `${rec.type}: before and after: ${JSON.stringify(rec.data)}`);
  assert.ok(isObject(rec.data.after) || (list && Array.isArray(rec.data.after)), `${rec.type}: after is an object: ${JSON.stringify(rec.data)}`);
  const text = JSON.stringify(rec.data);
  assert.doesNotMatch(text, /"[^"]*secret[^"]*":\s*"/i, `${rec.type}: a secret member: ${text}`);
  assert.doesNotMatch(text, /PRIVATE KEY|"d":/, `${rec.type}: private key material: ${text}`);
  for (const s of clientSecrets) {
    assert.ok(!text.includes(s), `${rec.type}: a client secret`);
    assert.ok(!text.includes(sha256Hex(s)), `${rec.type}: a client secret hash`);
  }
}

const shown = async (kind, id) => JSON.parse((await srv.cli([kind, 'show', id, '--data-dir', srv.dataDir, '--json'])).stdout);

serverTest(S, 'admin changes: client create/update/disable/rotate-secret, subject set, keys rotate: actor.admin, before/after, no secret', async () => {
  let { result: created, rec } = await one('client.created', () => srv.createClient({ id: 'ev-admin', subject: 'acct-ev', scope: 'read trade' }));
  clientSecrets.push(created.client_secret);
  assertAdmin(rec, 'ev-admin');
  assert.equal(rec.data.before, null, 'a new client has no before');
  assert.deepEqual(rec.data.after, await shown('client', 'ev-admin'), 'after = the client as stored');
  let previous = rec.data.after;

  ({ rec } = await one('client.updated', () => srv.cli(['client', 'update', 'ev-admin', '--data-dir', srv.dataDir, '--scope', 'read', '--bundle', srv.bundle])));
  assertAdmin(rec, 'ev-admin');
  assert.ok(isObject(rec.data.before));
  assert.match(JSON.stringify(rec.data.before), /read trade/);
  assert.doesNotMatch(JSON.stringify(rec.data.after), /read trade/);
  assert.deepEqual(rec.data.before, previous, 'before = the client as it was');
  assert.deepEqual(rec.data.after, previous = await shown('client', 'ev-admin'));

  const rotated = await one('client.secret_rotated', () => srv.cli(['client', 'rotate-secret', 'ev-admin', '--data-dir', srv.dataDir, '--json']));
  const fresh = JSON.parse(rotated.result.stdout).client_secret;
  assert.equal(typeof fresh, 'string');
  srv.remember(fresh);
  clientSecrets.push(fresh);
  assertAdmin(rotated.rec, 'ev-admin');
  assert.deepEqual(rotated.rec.data.before, previous);
  assert.deepEqual(rotated.rec.data.after, previous = await shown('client', 'ev-admin'));

  ({ rec } = await one('client.disabled', () => srv.cli(['client', 'disable', 'ev-admin', '--data-dir', srv.dataDir])));
  assertAdmin(rec, 'ev-admin');
  assert.ok(isObject(rec.data.before));
  assert.deepEqual(rec.data.before, previous);
  assert.deepEqual(rec.data.after, await shown('client', 'ev-admin'));
  assert.equal(rec.data.before.disabled, false);
  assert.equal(rec.data.after.disabled, true, `after of a disable: ${JSON.stringify(rec.data.after)}`);

  ({ rec } = await one('subject.set', () => srv.setSubject('acct-ev-new', { ...GOOD_SUBJECT, kyc_tier: 2 })));
  assertAdmin(rec, 'acct-ev-new');
  assert.equal(rec.data.before, null);
  assert.deepEqual(rec.data.after, { ...GOOD_SUBJECT, kyc_tier: 2 }, 'after = the attributes set');
  ({ rec } = await one('subject.set', () => srv.setSubject('acct-ev-new', { ...GOOD_SUBJECT, kyc_tier: 1 })));
  assertAdmin(rec, 'acct-ev-new');
  assert.deepEqual(rec.data.before, { ...GOOD_SUBJECT, kyc_tier: 2 });
  assert.deepEqual(rec.data.after, (await shown('subject', 'acct-ev-new')).attrs);
  assert.equal(rec.data.after.kyc_tier, 1);

  const keys = await one('key.rotated', () => srv.cli(['keys', 'rotate', '--data-dir', srv.dataDir, '--json']));
  const kid = JSON.parse(keys.result.stdout).kid;
  assertAdmin(keys.rec, kid, { list: true });
  assert.ok(!JSON.stringify(keys.rec.data.before).includes(kid), 'the new key in before');
  assert.ok(JSON.stringify(keys.rec.data.after).includes(kid), 'the new key not in after');

  // admin records interleave with the server's: one chain
  const raw = auditBytes(srv.dataDir);
  for (const s of clientSecrets) {
    assert.ok(!raw.includes(s), 'a client secret is in the audit database files');
    assert.ok(!raw.includes(sha256Hex(s)), 'a client secret hash is in the audit database files');
  }
  assert.doesNotMatch(raw, /PRIVATE KEY/);
});

serverTest(S, 'after all of it: the log verifies, 1..N with JSON data, every type present, no token or secret in the database', async (t) => {
  await assertVerifies(srv.dataDir);
  const whole = await assertWholeLog(srv.dataDir);
  t.diagnostic(`${whole.count} records: ${JSON.stringify(whole.types)}`);
  for (const type of ['policy.loaded', 'policy.refused', 'token.issued', 'token.denied', 'client.auth_failed', 'token.introspected',
    'token.revoked', 'refresh.reuse_detected', 'client.created', 'client.updated', 'client.disabled', 'client.secret_rotated',
    'subject.set', 'key.rotated']) assert.ok(whole.types[type] > 0, `no ${type} record`);
  const raw = auditBytes(srv.dataDir);
  for (const s of srv.secrets) {
    assert.ok(!raw.includes(s), `a secret or token is in the audit database files: ${s.slice(0, 12)}...`);
    const sig = s.split('.')[2];
    if (sig && sig.length >= 16) assert.ok(!raw.includes(sig), 'a token signature is in the audit database files');
  }
});

finalChecks(S);
