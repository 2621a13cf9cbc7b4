// Security state must be on disk before the answer leaves: after a SIGKILL and a restart on the
// same data directory, a rotated refresh token is still spent, a used assertion jti still replayed,
// a revoked token still revoked, and the signing key the same.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, ASSERTION_TYPE } from './lib/server.mjs';
import { makeClientKey, assertion, decode, verifyAccessToken } from './lib/tokens.mjs';

let srv;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read trade' };
let secret, key;

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('durability');
  await srv.setSubject('acct-d');
  secret = (await srv.createClient({ id: 'durable', subject: 'acct-d', grants: ['client_credentials', 'refresh_token'], ttl: 600 })).client_secret;
  key = await makeClientKey('ES256');
  await srv.createClient({ id: 'durable-pkj', subject: 'acct-d', auth: 'private_key_jwt', jwks: key.jwks, ttl: 600 });
  await srv.start();
});

serverTest(S, 'after SIGKILL and restart: spent refresh tokens, used jtis, revocations and the signing key persist', async () => {
  const auth = { basic: ['durable', secret] };
  const first = assertOk(await srv.token(cc, auth));
  const second = assertOk(await srv.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, auth));
  const a = await assertion('durable-pkj', key);
  assertOk(await srv.token({ ...cc, client_assertion_type: ASSERTION_TYPE, client_assertion: a }));
  const revoked = assertOk(await srv.token(cc, auth));
  assert.equal((await srv.revoke(revoked.access_token, auth)).status, 200);
  const policy = decode(first.access_token).payload.policy;

  srv.child.kill('SIGKILL');
  const gone = await srv.exit;
  assert.equal(gone.signal, 'SIGKILL');
  await srv.start();

  assertOAuthError(await srv.token({ ...cc, client_assertion_type: ASSERTION_TYPE, client_assertion: a }), 401, 'invalid_client');
  assert.deepEqual((await srv.introspect(revoked.access_token, auth)).json, { active: false }, 'revocation lost in the crash');
  // tokens from before the crash verify against the restarted server's /jwks: same key
  await verifyAccessToken(srv, second.access_token, { sub: 'acct-d', clientId: 'durable', ttl: 600 });
  assert.equal((await srv.introspect(second.access_token, auth)).json?.active, true);
  const fresh = assertOk(await srv.token(cc, auth));
  assert.equal(decode(fresh.access_token).header.kid, decode(first.access_token).header.kid, 'signing key changed on restart');
  assert.equal(decode(fresh.access_token).payload.policy, policy);
  // the spent refresh token is still spent, and its reuse still kills the family
  assertOAuthError(await srv.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, auth), 400, 'invalid_grant');
  assertOAuthError(await srv.token({ grant_type: 'refresh_token', refresh_token: second.refresh_token }, auth), 400, 'invalid_grant');
});

finalChecks(S);
