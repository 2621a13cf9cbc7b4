// Tokens after issuance: introspection (RFC 7662) of valid, expired, revoked and forged tokens;
// revocation (RFC 7009) and its client binding; refresh token rotation with reuse detection,
// concurrent reuse and client binding.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, assertNoStore, sleep, eventually, ISSUER, GOOD_SUBJECT, describeRes } from './lib/server.mjs';
import { jose, decode, makeClientKey, b64uJson, hs256, assertion, grantedActions } from './lib/tokens.mjs';

let srv;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };
let A, B, R, R2, SHORT, RS, RD, PK; // clients
let pkKey;
const auth = (c) => ({ basic: [c.client_id, c.client_secret] });

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('tokens');
  await srv.setSubject('acct-a');
  await srv.setSubject('acct-b');
  A = await srv.createClient({ id: 'client-a', subject: 'acct-a', ttl: 600 });
  B = await srv.createClient({ id: 'client-b', subject: 'acct-b', ttl: 600 });
  R = await srv.createClient({ id: 'refresher', subject: 'acct-a', grants: ['client_credentials', 'refresh_token'], ttl: 600 });
  R2 = await srv.createClient({ id: 'refresher-2', subject: 'acct-b', grants: ['client_credentials', 'refresh_token'], ttl: 600 });
  SHORT = await srv.createClient({ id: 'short-lived', subject: 'acct-a', ttl: 1 });
  await srv.setSubject('acct-changes');
  RS = await srv.createClient({ id: 'refresher-subject', subject: 'acct-changes', grants: ['client_credentials', 'refresh_token'], ttl: 600 });
  RD = await srv.createClient({ id: 'refresher-disabled', subject: 'acct-a', grants: ['client_credentials', 'refresh_token'], ttl: 600 });
  pkKey = await makeClientKey('EdDSA');
  PK = await srv.createClient({ id: 'introspector-pkj', subject: 'acct-b', auth: 'private_key_jwt', jwks: pkKey.jwks });
  await srv.start();
});

async function issue(c = A, params = cc) { return assertOk(await srv.token(params, auth(c))); }
async function introspect(token, c = A) {
  const res = await srv.introspect(token, auth(c));
  assert.equal(res.status, 200, `introspect: ${describeRes(res)}`);
  assertNoStore(res);
  assert.equal(typeof res.json?.active, 'boolean', res.text);
  return res.json;
}
function assertInactive(j, what) {
  assert.deepEqual(j, { active: false }, `${what}: expected exactly {"active":false}, got ${JSON.stringify(j)}`);
}
async function refresh(token, c = R) { return srv.token({ grant_type: 'refresh_token', refresh_token: token }, auth(c)); }

serverTest(S, 'introspection of a valid token: active with every field', async () => {
  const t = await issue();
  const j = await introspect(t.access_token);
  const claims = decode(t.access_token).payload;
  assert.equal(j.active, true);
  assert.equal(j.sub, 'acct-a');
  assert.equal(j.client_id, 'client-a');
  assert.deepEqual(j.scope.split(' ').sort(), ['read', 'trade']);
  assert.equal(j.iss, ISSUER);
  assert.ok(j.aud === ISSUER || (Array.isArray(j.aud) && j.aud.includes(ISSUER)), `aud ${JSON.stringify(j.aud)}`);
  for (const f of ['exp', 'iat', 'jti', 'policy']) assert.deepEqual(j[f], claims[f], `introspection ${f} matches the token`);
  assert.deepEqual(j.authorization_details, claims.authorization_details);
  assert.ok(typeof j.token_type === 'string' && j.token_type.length > 0, `token_type ${j.token_type}`);
});

serverTest(S, 'introspection of an expired token: inactive', async () => {
  const t = await issue(SHORT);
  assert.equal(t.expires_in, 1);
  assert.equal((await introspect(t.access_token, A)).active, true, 'fresh 1 s token is active');
  await sleep(2200);
  assertInactive(await introspect(t.access_token, A), 'expired token');
});

serverTest(S, 'introspection of a revoked token: inactive', async () => {
  const t = await issue();
  const r = await srv.revoke(t.access_token, auth(A));
  assert.equal(r.status, 200, describeRes(r));
  assertNoStore(r);
  assertInactive(await introspect(t.access_token), 'revoked token');
  // revoking twice, with a hint, is still 200
  assert.equal((await srv.revoke(t.access_token, auth(A), 'access_token')).status, 200);
});

serverTest(S, 'introspection of garbage: inactive', async () => {
  for (const g of ['garbage', 'a.b.c', 'eyJhbGciOiJFUzI1NiJ9.e30.', '.'.repeat(1000), 'x'.repeat(20000)]) {
    assertInactive(await introspect(g), `garbage ${JSON.stringify(g.slice(0, 20))}`);
  }
  // token= with no value is no token at all (RFC 6749 §3.1), and token is required (RFC 7662 §2.1)
  assertOAuthError(await srv.introspect('', auth(A)), 400, 'invalid_request');
  assertOAuthError(await srv.token({}, auth(A), { target: '/introspect' }), 400, 'invalid_request');
});

serverTest(S, 'introspection of forged tokens: inactive', async () => {
  const t = await issue();
  const [h, p, s] = t.access_token.split('.');
  const header = decode(t.access_token).header;
  const claims = decode(t.access_token).payload;
  // signed by another key under the server's kid
  const attacker = await makeClientKey('ES256');
  const forged = await new jose.CompactSign(Buffer.from(JSON.stringify({ ...claims, sub: 'acct-b' })))
    .setProtectedHeader(header).sign(attacker.privateKey);
  assertInactive(await introspect(forged), 'token signed by another key');
  // the attacker's key embedded in the header
  const withJwk = await new jose.CompactSign(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader({ ...header, jwk: attacker.publicJwk }).sign(attacker.privateKey);
  assertInactive(await introspect(withJwk), 'token with an embedded jwk');
  // claims changed under the real signature
  assertInactive(await introspect(`${h}.${b64uJson({ ...claims, scope: 'read trade withdraw' })}.${s}`), 'tampered payload');
  // alg none, and HS256 keyed with the server's public key
  assertInactive(await introspect(`${b64uJson({ ...header, alg: 'none' })}.${p}.`), 'alg none');
  const jwks = await srv.jwks();
  const pub = jwks.keys.find((k) => k.kid === header.kid);
  const pem = await jose.exportSPKI(await jose.importJWK(pub, 'ES256'));
  for (const secret of [pem, JSON.stringify(pub)])
    assertInactive(await introspect(hs256({ ...header, alg: 'HS256' }, claims, secret)), 'HS256 with the public key');
  // the genuine token is still active (the refusals above are about the forgeries)
  assert.equal((await introspect(t.access_token)).active, true);
});

serverTest(S, 'introspection and revocation without client authentication: 401', async () => {
  const t = await issue();
  assertOAuthError(await srv.introspect(t.access_token, {}), 401, 'invalid_client');
  assertOAuthError(await srv.introspect(t.access_token, { basic: ['client-a', 'wrong'] }), 401, 'invalid_client');
  assertOAuthError(await srv.revoke(t.access_token, {}), 401, 'invalid_client');
  assertOAuthError(await srv.revoke(t.access_token, { basic: ['client-a', 'wrong'] }), 401, 'invalid_client');
  // an access token is not a client credential
  assertOAuthError(await srv.post('/introspect', `token=${t.access_token}`, { headers: { authorization: `Bearer ${t.access_token}` } }), 401, 'invalid_client');
  assert.equal((await introspect(t.access_token)).active, true, 'unauthenticated revoke had no effect');
});

serverTest(S, 'revoking another client\'s token has no effect', async () => {
  const t = await issue(A);
  const r = await srv.revoke(t.access_token, auth(B));
  assert.equal(r.status, 200, `contract: 200 for a valid client; ${describeRes(r)}`);
  assertNoStore(r);
  assert.equal((await introspect(t.access_token, A)).active, true, 'A\'s token was revoked by B');
  // and an unknown token
  assert.equal((await srv.revoke('no-such-token', auth(B))).status, 200);
});

serverTest(S, 'refresh: rotation, old token refused, reuse revokes the whole family', async () => {
  const first = await issue(R);
  assert.equal(typeof first.refresh_token, 'string', 'refresh_token issued with the refresh_token grant');
  assert.ok(first.refresh_token.length >= 22, 'refresh token has >= 128 bits');
  const second = assertOk(await refresh(first.refresh_token));
  assert.equal(typeof second.refresh_token, 'string');
  assert.notEqual(second.refresh_token, first.refresh_token, 'refresh token rotated');
  assert.equal(second.token_type, 'Bearer');
  assert.deepEqual(decode(second.access_token).payload.sub, 'acct-a');
  assert.deepEqual(second.scope.split(' ').sort(), ['read', 'trade'], 'refresh keeps the scope');
  assert.equal((await introspect(second.access_token, R)).active, true);
  // reuse of the rotated token
  assertOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
  // the family is revoked: the newest refresh token and the access tokens
  assertOAuthError(await refresh(second.refresh_token), 400, 'invalid_grant');
  assertInactive(await introspect(second.access_token, R), 'access token of a revoked family');
  assertInactive(await introspect(first.access_token, R), 'first access token of a revoked family');
});

serverTest(S, 'refresh: two concurrent uses of one refresh token, at most one succeeds, family revoked after', async () => {
  for (let round = 0; round < 3; round++) {
    const first = await issue(R);
    const results = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token)]);
    const ok = results.filter((r) => r.status === 200);
    assert.ok(ok.length <= 1, `round ${round}: both concurrent refreshes succeeded`);
    for (const r of results) if (r.status !== 200) assertOAuthError(r, 400, 'invalid_grant');
    for (const r of ok) {
      assertOAuthError(await refresh(r.json.refresh_token), 400, 'invalid_grant');
      assertInactive(await introspect(r.json.access_token, R), `round ${round}: access token of the revoked family`);
    }
    assertOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
  }
});

serverTest(S, 'refresh by another client is refused', async () => {
  const first = await issue(R);
  assertOAuthError(await refresh(first.refresh_token, R2), 400, 'invalid_grant');
  const again = await refresh(first.refresh_token, R2);
  assertOAuthError(again, 400, 'invalid_grant');
  assert.equal(again.json.access_token, undefined);
});

serverTest(S, 'a revoked refresh token is refused; garbage refresh tokens are invalid_grant', async () => {
  const first = await issue(R);
  assert.equal((await srv.revoke(first.refresh_token, auth(R), 'refresh_token')).status, 200);
  assertOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');
  for (const g of ['garbage', 'x'.repeat(5000)]) assertOAuthError(await refresh(g), 400, 'invalid_grant');
  assertOAuthError(await srv.token({ grant_type: 'refresh_token' }, auth(R)), 400, 'invalid_request');
  // an access token is not a refresh token
  const t = await issue(R);
  assertOAuthError(await refresh(t.access_token), 400, 'invalid_grant');
});

serverTest(S, 'a client without the refresh_token grant gets no refresh token and cannot refresh', async () => {
  const t = await issue(A);
  assert.equal(t.refresh_token, undefined);
  const first = await issue(R);
  const res = await refresh(first.refresh_token, A);
  assert.equal(res.status, 400, describeRes(res));
  assert.ok(['unauthorized_client', 'invalid_grant'].includes(res.json?.error), describeRes(res));
});

serverTest(S, 'introspection with private_key_jwt client authentication; a replayed assertion is refused there too', async () => {
  const t = await issue(A);
  const res = await srv.token({ token: t.access_token, client_id: 'introspector-pkj', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await assertion('introspector-pkj', pkKey, { aud: ISSUER }) }, {}, { target: '/introspect' });
  assert.equal(res.status, 200, describeRes(res));
  assertNoStore(res);
  assert.equal(res.json.active, true);
  // a replayed assertion is refused at /introspect too
  const a = await assertion('introspector-pkj', pkKey, { aud: ISSUER });
  const form = { token: t.access_token, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a };
  assert.equal((await srv.token(form, {}, { target: '/introspect' })).status, 200);
  assertOAuthError(await srv.token(form, {}, { target: '/introspect' }), 401, 'invalid_client');
});

serverTest(S, 'revocation with a wrong token_type_hint still revokes (RFC 7009 §2.1)', async () => {
  const t = await issue(R);
  assert.equal((await srv.revoke(t.access_token, auth(R), 'refresh_token')).status, 200);
  assertInactive(await introspect(t.access_token, R), 'access token revoked with hint refresh_token');
  const u = await issue(R);
  assert.equal((await srv.revoke(u.refresh_token, auth(R), 'access_token')).status, 200);
  assertOAuthError(await refresh(u.refresh_token), 400, 'invalid_grant');
});

serverTest(S, 'refresh cannot widen the scope; narrowing works; a refused widening does not consume the token', async () => {
  const first = await srv.token({ grant_type: 'client_credentials', scope: 'read' }, auth(R));
  assertOk(first);
  const wide = await srv.token({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token, scope: 'read trade' }, auth(R));
  assertOAuthError(wide, 400, 'invalid_scope');
  const same = assertOk(await refresh(first.json.refresh_token));
  assert.equal(same.scope, 'read', 'the original refresh token still works after a refused widening');
  const full = await issue(R);
  const narrow = assertOk(await srv.token({ grant_type: 'refresh_token', refresh_token: full.refresh_token, scope: 'read' }, auth(R)));
  assert.equal(narrow.scope, 'read');
  assert.equal(decode(narrow.access_token).payload.scope, 'read');
});

serverTest(S, 'refresh runs the policy again: a subject that lost its permissions gets no trade from a refresh', async () => {
  const first = await issue(RS);
  assert.ok(grantedActions(decode(first.access_token).payload.authorization_details).includes('trade'));
  await srv.setSubject('acct-changes', { ...GOOD_SUBJECT, residence: 'KP' });
  // the server sees the change within ~1 s: wait until a fresh client_credentials request is denied
  assert.ok(await eventually(async () => (await srv.token(cc, auth(RS))).status === 400, 2500), 'subject change not seen');
  const res = await refresh(first.refresh_token, RS);
  if (res.status === 200) {
    const d = decode(res.json.access_token).payload;
    assert.ok(!grantedActions(d.authorization_details).includes('trade'), `refresh granted trade to a sanctioned subject: ${d.scope}`);
    assert.ok(!d.scope.split(' ').includes('trade'), `refresh granted trade scope to a sanctioned subject: ${d.scope}`);
  } else {
    assert.equal(res.status, 400, describeRes(res));
    assert.ok(['invalid_scope', 'invalid_grant'].includes(res.json?.error), describeRes(res));
  }
});

serverTest(S, 'a disabled client cannot refresh or introspect', async () => {
  const first = await issue(RD);
  await srv.cli(['client', 'disable', 'refresher-disabled', '--data-dir', srv.dataDir]);
  assert.ok(await eventually(async () => (await refresh(first.refresh_token, RD)).status === 401, 2500), 'disabled client still refreshes');
  assertOAuthError(await refresh(first.refresh_token, RD), 401, 'invalid_client');
  assertOAuthError(await srv.introspect(first.access_token, auth(RD)), 401, 'invalid_client');
});

serverTest(S, 'revoking another client\'s refresh token has no effect', async () => {
  const first = await issue(R);
  assert.equal((await srv.revoke(first.refresh_token, auth(R2), 'refresh_token')).status, 200);
  assert.equal((await srv.revoke(first.refresh_token, auth(B))).status, 200);
  assertOk(await refresh(first.refresh_token));
});

serverTest(S, 'a client whose subject has no attributes gets nothing (fail closed)', async () => {
  const r = await srv.cli(['client', 'create', '--data-dir', srv.dataDir, ...(await srv.schemaArgs()), '--id', 'ghost-client',
    '--subject', 'no-such-subject', '--auth', 'client_secret_basic', '--grant', 'client_credentials', '--scope', 'read trade', '--kind', 'web', '--json'], { allowFail: true });
  if (r.code !== 0) return; // refused at registration: nothing to exploit
  const secret = JSON.parse(r.stdout).client_secret;
  srv.remember(secret);
  const res = await eventually(async () => {
    const x = await srv.token(cc, { basic: ['ghost-client', secret] });
    return x.status === 401 ? null : x;
  }, 2500);
  assert.ok(res, 'client never became usable');
  assert.notEqual(res.status, 200, `token issued for a subject without attributes: ${describeRes(res)}`);
  assert.equal(res.json?.access_token, undefined);
  assertNoStore(res);
});

finalChecks(S);
