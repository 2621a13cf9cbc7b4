// Races an attacker (or plain load) can create: many valid requests at once (pooled signing and
// verification contexts must not mix up), refresh and revocation racing each other, one refresh
// token used ten times at once.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError } from './lib/server.mjs';
import { verifyAccessToken, makeClientKey, assertion, decode, jose } from './lib/tokens.mjs';

let srv;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };
const sec = {};
const keys = {};

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('concurrency');
  await srv.setSubject('acct-1');
  await srv.setSubject('acct-2');
  sec.one = (await srv.createClient({ id: 'one', subject: 'acct-1', ttl: 600 })).client_secret;
  sec.two = (await srv.createClient({ id: 'two', subject: 'acct-2', auth: 'client_secret_post', ttl: 600 })).client_secret;
  sec.r = (await srv.createClient({ id: 'r', subject: 'acct-1', grants: ['client_credentials', 'refresh_token'], ttl: 600 })).client_secret;
  for (const alg of ['ES256', 'EdDSA', 'PS256']) {
    keys[alg] = await makeClientKey(alg);
    await srv.createClient({ id: `k-${alg}`, subject: alg === 'EdDSA' ? 'acct-2' : 'acct-1', auth: 'private_key_jwt', jwks: keys[alg].jwks, ttl: 600 });
  }
  await srv.start();
});

serverTest(S, '200 concurrent token requests from five clients: all issued, each token verifies with its own claims', async () => {
  const who = [
    ['one', 'acct-1', () => ({ basic: ['one', sec.one] })],
    ['two', 'acct-2', () => ({ post: ['two', sec.two] })],
    ['k-ES256', 'acct-1', async () => ({ assertion: await assertion('k-ES256', keys.ES256) })],
    ['k-EdDSA', 'acct-2', async () => ({ assertion: await assertion('k-EdDSA', keys.EdDSA) })],
    ['k-PS256', 'acct-1', async () => ({ assertion: await assertion('k-PS256', keys.PS256) })],
  ];
  const jobs = [];
  for (let i = 0; i < 200; i++) {
    const [id, sub, auth] = who[i % who.length];
    jobs.push((async () => ({ id, sub, res: await srv.token(cc, await auth()) }))());
  }
  const results = await Promise.all(jobs);
  const jwks = jose.createLocalJWKSet(await srv.jwks());
  const jtis = new Set();
  for (const { id, sub, res } of results) {
    const body = assertOk(res);
    const { payload } = await jose.jwtVerify(body.access_token, jwks, { typ: 'at+jwt', algorithms: ['ES256'] });
    assert.equal(payload.client_id, id, 'a token carries another request\'s client');
    assert.equal(payload.sub, sub, 'a token carries another request\'s subject');
    jtis.add(payload.jti);
  }
  assert.equal(jtis.size, 200, 'jti collision under load');
  await verifyAccessToken(srv, results[0].res.json.access_token, { sub: 'acct-1', clientId: 'one', ttl: 600 });
});

serverTest(S, 'one refresh token used ten times at once: at most one succeeds, then the family is dead', async () => {
  for (let round = 0; round < 3; round++) {
    const first = assertOk(await srv.token(cc, { basic: ['r', sec.r] }));
    const results = await Promise.all(Array.from({ length: 10 }, () =>
      srv.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, { basic: ['r', sec.r] })));
    const ok = results.filter((r) => r.status === 200);
    assert.ok(ok.length <= 1, `round ${round}: ${ok.length} of 10 concurrent refreshes succeeded`);
    for (const r of results) if (r.status !== 200) assertOAuthError(r, 400, 'invalid_grant');
    for (const r of ok) {
      assertOAuthError(await srv.token({ grant_type: 'refresh_token', refresh_token: r.json.refresh_token }, { basic: ['r', sec.r] }), 400, 'invalid_grant');
      const intro = await srv.introspect(r.json.access_token, { basic: ['r', sec.r] });
      assert.deepEqual(intro.json, { active: false }, `round ${round}: access token of the dead family still active`);
    }
  }
});

serverTest(S, 'revocation racing a refresh: the revoked family never yields a live token', async () => {
  for (let round = 0; round < 5; round++) {
    const first = assertOk(await srv.token(cc, { basic: ['r', sec.r] }));
    const [rev, ref] = await Promise.all([
      srv.revoke(first.refresh_token, { basic: ['r', sec.r] }, 'refresh_token'),
      srv.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, { basic: ['r', sec.r] }),
    ]);
    assert.equal(rev.status, 200);
    if (ref.status === 200) {
      // the refresh won the race; the revocation of the (now rotated) token must still kill the family
      const next = await srv.token({ grant_type: 'refresh_token', refresh_token: ref.json.refresh_token }, { basic: ['r', sec.r] });
      assertOAuthError(next, 400, 'invalid_grant');
    } else {
      assertOAuthError(ref, 400, 'invalid_grant');
    }
  }
});

serverTest(S, 'the same private_key_jwt assertion raced across /token, /introspect and /revoke is accepted once', async () => {
  const t = assertOk(await srv.token(cc, { basic: ['one', sec.one] })).access_token;
  const a = await assertion('k-ES256', keys.ES256, { aud: 'https://auth.mandate.test' });
  const p = { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a };
  const results = await Promise.all([
    srv.token({ ...cc, ...p }), srv.token({ token: t, ...p }, {}, { target: '/introspect' }),
    srv.token({ token: 'x', ...p }, {}, { target: '/revoke' }), srv.token({ ...cc, ...p }),
  ]);
  const ok = results.filter((r) => r.status === 200).length;
  assert.equal(ok, 1, `assertion accepted ${ok} times: ${results.map((r) => r.status).join(',')}`);
  assert.ok(decode(t).payload.jti);
});

finalChecks(S);
