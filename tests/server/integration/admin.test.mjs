// The admin CLI against a running server: new clients, secret rotation, signing key rotation,
// subject changes; and what the data directory keeps at rest.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, eventually, sleep, GOOD_SUBJECT } from './lib/server.mjs';
import { verifyAccessToken, decode, grantedActions } from './lib/tokens.mjs';

let srv;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('admin');
  await srv.setSubject('acct-good');
  srv.first = await srv.createClient({ id: 'before-start', subject: 'acct-good' });
  await srv.start();
});

serverTest(S, 'a client created while the server runs is usable within 2 s', async () => {
  const c = await srv.createClient({ id: 'late-client', subject: 'acct-good', ttl: 300 });
  const t0 = Date.now();
  const ok = await eventually(async () => (await srv.token(cc, { basic: ['late-client', c.client_secret] })).status === 200, 2000);
  assert.ok(ok, `not usable ${Date.now() - t0} ms after client create`);
  const body = assertOk(await srv.token(cc, { basic: ['late-client', c.client_secret] }));
  await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'late-client', ttl: 300, scope: 'read trade' });
});

serverTest(S, 'rotate-secret: old secret refused, new one accepted', async () => {
  const old = srv.first.client_secret;
  assertOk(await srv.token(cc, { basic: ['before-start', old] }));
  const { stdout } = await srv.cli(['client', 'rotate-secret', 'before-start', '--data-dir', srv.dataDir, '--json']);
  const fresh = JSON.parse(stdout).client_secret;
  assert.equal(typeof fresh, 'string', `rotate-secret --json: ${stdout}`);
  assert.notEqual(fresh, old);
  srv.remember(fresh);
  const switched = await eventually(async () => (await srv.token(cc, { basic: ['before-start', old] })).status === 401, 2000);
  assert.ok(switched, 'old secret still accepted 2 s after rotate-secret');
  assertOAuthError(await srv.token(cc, { basic: ['before-start', old] }), 401, 'invalid_client');
  assertOk(await srv.token(cc, { basic: ['before-start', fresh] }));
});

serverTest(S, 'keys rotate: /jwks shows both keys, new tokens are signed by the new key, old and new verify', async () => {
  const c = await srv.createClient({ id: 'key-client', subject: 'acct-good' });
  await eventually(async () => (await srv.token(cc, { basic: ['key-client', c.client_secret] })).status === 200, 2000);
  const before = await srv.jwks();
  assert.equal(before.keys.length, 1, `one key at first: ${JSON.stringify(before)}`);
  const oldToken = assertOk(await srv.token(cc, { basic: ['key-client', c.client_secret] })).access_token;
  assert.equal(decode(oldToken).header.kid, before.keys[0].kid);
  const { stdout } = await srv.cli(['keys', 'rotate', '--data-dir', srv.dataDir, '--activate-after', '0', '--json']);
  const kid = JSON.parse(stdout).kid;
  assert.ok(kid && kid !== before.keys[0].kid, `keys rotate --json: ${stdout}`);
  const both = await eventually(async () => (await srv.jwks()).keys.length === 2, 2000);
  assert.ok(both, `/jwks after keys rotate: ${JSON.stringify(await srv.jwks())}`);
  const jwks = await srv.jwks();
  assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [before.keys[0].kid, kid].sort(), 'old and new key published');
  for (const k of jwks.keys) assert.equal(k.d, undefined);
  const listed = (await srv.cli(['keys', 'list', '--data-dir', srv.dataDir, '--json'])).stdout;
  assert.doesNotMatch(listed, /"d"\s*:|PRIVATE KEY/, 'keys list --json prints private key material');
  // new tokens switch to the new key; old and new tokens verify against the published set
  const newToken = await eventually(async () => {
    const t = assertOk(await srv.token(cc, { basic: ['key-client', c.client_secret] })).access_token;
    return decode(t).header.kid === kid ? t : null;
  }, 2500);
  assert.ok(newToken, 'tokens still signed by the old key 2.5 s after keys rotate --activate-after 0');
  await verifyAccessToken(srv, newToken, { sub: 'acct-good', clientId: 'key-client' });
  await verifyAccessToken(srv, oldToken, { sub: 'acct-good', clientId: 'key-client' });
  for (const t of [oldToken, newToken])
    assert.equal((await srv.introspect(t, { basic: ['key-client', c.client_secret] })).json?.active, true, 'introspection after rotation');
});

serverTest(S, 'keys rotate with the default delay publishes first and keeps signing with the current key', async () => {
  const c = await srv.createClient({ id: 'key-client-2', subject: 'acct-good' });
  await eventually(async () => (await srv.token(cc, { basic: ['key-client-2', c.client_secret] })).status === 200, 2000);
  const signing = decode(assertOk(await srv.token(cc, { basic: ['key-client-2', c.client_secret] })).access_token).header.kid;
  const { stdout } = await srv.cli(['keys', 'rotate', '--data-dir', srv.dataDir, '--json']);
  const kid = JSON.parse(stdout).kid;
  assert.ok(await eventually(async () => (await srv.jwks()).keys.some((k) => k.kid === kid), 2000), 'new key not published within 2 s');
  await sleep(1200);
  const t = assertOk(await srv.token(cc, { basic: ['key-client-2', c.client_secret] })).access_token;
  assert.equal(decode(t).header.kid, signing, 'signed with the new key before its activation time');
});

serverTest(S, 'subject attributes changed while running are used within 2 s', async () => {
  await srv.setSubject('acct-changing', GOOD_SUBJECT);
  const c = await srv.createClient({ id: 'subject-client', subject: 'acct-changing' });
  const trades = async () => {
    const r = await srv.token(cc, { basic: ['subject-client', c.client_secret] });
    return r.status === 200 && grantedActions(decode(r.json.access_token).payload.authorization_details).includes('trade');
  };
  assert.ok(await eventually(trades, 2000), 'tier 3 subject cannot trade');
  await srv.setSubject('acct-changing', { ...GOOD_SUBJECT, kyc_tier: 0 });
  assert.ok(await eventually(async () => !(await trades()), 2000), 'still trading 2 s after the subject became tier 0');
});

serverTest(S, 'client secrets and tokens are not stored in plaintext in the data directory', async () => {
  const c = await srv.createClient({ id: 'at-rest', subject: 'acct-good', grants: ['client_credentials', 'refresh_token'] });
  const body = await eventually(async () => {
    const r = await srv.token(cc, { basic: ['at-rest', c.client_secret] });
    return r.status === 200 ? r.json : null;
  }, 2000);
  assert.ok(body, 'no token for the new client');
  await sleep(300); // let the WAL take what it will
  const files = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (f) => files.push(f))(path.join(d, e.name)); };
  walk(srv.dataDir);
  for (const f of files) {
    const bytes = fs.readFileSync(f).toString('latin1');
    assert.ok(!bytes.includes(c.client_secret), `client secret in plaintext in ${path.basename(f)}`);
    assert.ok(!bytes.includes(body.refresh_token), `refresh token in plaintext in ${path.basename(f)}`);
  }
});

serverTest(S, 'mandate client show/list never print a secret', async () => {
  for (const args of [['client', 'show', 'at-rest', '--json'], ['client', 'list', '--json'], ['client', 'list']]) {
    const { stdout } = await srv.cli([...args, '--data-dir', srv.dataDir]);
    for (const s of srv.secrets) assert.ok(!stdout.includes(s), `mandate ${args.join(' ')} prints a secret`);
  }
});

finalChecks(S);
