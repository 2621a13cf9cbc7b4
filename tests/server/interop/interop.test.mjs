// Interoperability of `mandate serve` with independent client-side implementations: the OAuth 2.0
// flows are driven by oauth4webapi (discovery, client authentication, token, introspection,
// revocation, refresh), every access token is verified by jose against the server's JWKS and by
// oauth4webapi's RFC 9068 resource-server validation. Nothing here builds a request by hand, so a
// deviation from the RFCs that these libraries rely on fails a test.
//
//   MANDATE_BINARY=build/tools/mandate node --test          (what run.sh does)
//   INTEROP_PEER=1 node --test   the same flows against node-oidc-provider where they overlap,
//                                to check the test itself (needs tests/bench/token/peer installed)
import assert from 'node:assert/strict';
import { before, after, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';

import { MandateTarget } from './lib/mandate.mjs';

const insecure = { [oauth.allowInsecureRequests]: true };  // the server listens on plain http://127.0.0.1
const RESOURCE = 'https://api.venue.example/trading';
// Permitted to trade everything by the reference policies.
const SUBJECT = {
  kyc_tier: 3, residence: 'SG', category: 'professional', us_person: false, ecp: true,
  appropriateness: [], net_worth_usd: '5000000', onboarded: '2024-01-01T00:00:00Z',
};

let target;
let as;  // the discovered authorization server metadata
const clients = {};
let clientKey;  // the private_key_jwt client's key pair

async function makeTarget() {
  if (process.env.INTEROP_PEER) {
    const { PeerTarget } = await import('./lib/peer.mjs');
    return new PeerTarget();
  }
  return new MandateTarget(process.env.MANDATE_BINARY);
}

before(async () => {
  target = await makeTarget();
  await target.setSubject('acct-interop', SUBJECT);
  // Trading bots, as client_credentials clients are at a venue; the reference policies let a bot
  // trade only from an address on its allowlist (policies/venue/api_keys.policy).
  const common = { subject: 'acct-interop', scope: 'read trade', kind: 'trading_bot', ipAllowlist: ['127.0.0.1/32'] };
  clients.basic = await target.createClient({ ...common, id: 'interop-basic', auth: 'client_secret_basic' });
  clients.post = await target.createClient({ ...common, id: 'interop-post', auth: 'client_secret_post' });
  // RFC 6749 §2.3.1: Basic credentials are form-encoded first, so an id may hold ':' and '+'
  // (any VSCHAR, Appendix A.1: printable ASCII).
  clients.odd = await target.createClient({ ...common, id: 'desk:bot/1+x y%', auth: 'client_secret_basic' });

  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
  jwk.kid = await jose.calculateJwkThumbprint(jwk);
  clientKey = { privateKey, kid: jwk.kid };
  clients.pkjwt = await target.createClient({ ...common, id: 'interop-pkjwt', auth: 'private_key_jwt', jwks: { keys: [jwk] } });

  if (target.features.refreshToken) {
    clients.refresh = await target.createClient({ ...common, id: 'interop-refresh', auth: 'client_secret_basic',
      grants: ['client_credentials', 'refresh_token'] });
  }
  await target.start();
  const algorithm = target.features.oauth2Discovery ? 'oauth2' : 'oidc';
  as = await oauth.processDiscoveryResponse(target.issuer,
    await oauth.discoveryRequest(target.issuer, { algorithm, ...insecure }));
});

after(async () => {
  await target?.stop();
});

// The oauth4webapi client object and client authentication of each registered client.
function basic() { return [{ client_id: clients.basic.client_id }, oauth.ClientSecretBasic(clients.basic.client_secret)]; }
function post() { return [{ client_id: clients.post.client_id }, oauth.ClientSecretPost(clients.post.client_secret)]; }
function pkjwt() {
  return [{ client_id: clients.pkjwt.client_id }, oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: clientKey.kid })];
}
function refresher() { return [{ client_id: clients.refresh.client_id }, oauth.ClientSecretBasic(clients.refresh.client_secret)]; }

async function clientCredentials([client, auth], parameters = { scope: 'read trade' }) {
  const res = await oauth.clientCredentialsGrantRequest(as, client, auth, parameters, insecure);
  if (res.status === 200) assert.equal(res.headers.get('cache-control'), 'no-store', 'RFC 6749 §5.1: no-store');
  return oauth.processClientCredentialsResponse(as, client, res);
}

// Verifies an access token as a resource server would, twice: jose against the JWKS (the RFC
// 9068 header and claims checked here), and oauth4webapi's RFC 9068 validation of a request
// carrying it. Returns the claims.
async function verifyAccessToken(token, { clientId, aud = target.base, scope }) {
  const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    algorithms: ['ES256'],
    typ: 'at+jwt',
    issuer: as.issuer,
    audience: aud,
    requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
  });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(protectedHeader.typ.toLowerCase().replace(/^application\//, ''), 'at+jwt');
  assert.equal(typeof protectedHeader.kid, 'string', 'kid in the JWS header');
  assert.equal(payload.client_id, clientId);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(payload.exp > now && payload.exp <= now + 86_400, `exp ${payload.exp} within a day from now`);
  assert.ok(Math.abs(payload.iat - now) <= 60, `iat ${payload.iat} is now`);
  if (scope !== undefined) assert.deepEqual(payload.scope.split(' ').sort(), scope.split(' ').sort());
  if (target.features.policyClaim) {
    assert.match(payload.policy, /^sha256:[0-9a-f]{64}$/, 'the policy claim names the bundle hash');
  }

  const request = new Request(`${RESOURCE}/orders`, { headers: { authorization: `Bearer ${token}` } });
  const claims = await oauth.validateJwtAccessToken(as, request, aud, { ...insecure, signingAlgorithms: ['ES256'] });
  assert.equal(claims.jti, payload.jti);
  return payload;
}

async function introspect([client, auth], token) {
  const res = await oauth.introspectionRequest(as, client, auth, token, insecure);
  return oauth.processIntrospectionResponse(as, client, res);
}

async function revoke([client, auth], token) {
  const res = await oauth.revocationRequest(as, client, auth, token, insecure);
  return oauth.processRevocationResponse(res);
}

test('discovery from the issuer (RFC 8414 and OpenID locations)', async () => {
  // `as` was discovered by oauth4webapi from the issuer URL in before(), which checked that the
  // metadata names this issuer.
  assert.equal(as.issuer, target.base);
  for (const ep of ['token_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint']) {
    assert.equal(typeof as[ep], 'string', `${ep} in the metadata`);
    assert.ok(as[ep].startsWith(target.base), `${ep} ${as[ep]} under the issuer`);
  }
  for (const m of ['client_secret_basic', 'client_secret_post', 'private_key_jwt']) {
    assert.ok(as.token_endpoint_auth_methods_supported.includes(m), `${m} supported`);
  }
  assert.ok(as.token_endpoint_auth_signing_alg_values_supported.includes('ES256'));
  assert.ok(as.grant_types_supported.includes('client_credentials'));
  if (target.features.refreshToken) assert.ok(as.grant_types_supported.includes('refresh_token'));
  if (target.features.authorizationDetails) {
    assert.ok(as.authorization_details_types_supported.includes('trading'), 'authorization_details type trading');
  }
  if (target.features.oauth2Discovery) {
    // The OpenID location describes the same server.
    const oidc = await oauth.processDiscoveryResponse(target.issuer,
      await oauth.discoveryRequest(target.issuer, { algorithm: 'oidc', ...insecure }));
    assert.equal(oidc.token_endpoint, as.token_endpoint);
    assert.equal(oidc.jwks_uri, as.jwks_uri);
  }

  const jwks = await (await fetch(as.jwks_uri)).json();
  assert.ok(jwks.keys.length >= 1);
  for (const k of jwks.keys) {
    assert.equal(typeof k.kid, 'string');
    assert.equal(k.use, 'sig');
    assert.equal(k.d, undefined, 'no private key material in /jwks');
  }
});

test('client_credentials with client_secret_basic', async () => {
  const res = await clientCredentials(basic());
  assert.equal(res.token_type, 'bearer');  // oauth4webapi lower-cases it
  assert.ok(res.expires_in > 0);
  assert.equal(res.refresh_token, undefined, 'no refresh token without the refresh_token grant');
  await verifyAccessToken(res.access_token, { clientId: clients.basic.client_id, scope: 'read trade' });
});

test('client_secret_basic with a client id that needs form-encoding (":", "+", "/", space, "%")', async () => {
  const res = await clientCredentials([{ client_id: clients.odd.client_id }, oauth.ClientSecretBasic(clients.odd.client_secret)]);
  await verifyAccessToken(res.access_token, { clientId: 'desk:bot/1+x y%', scope: 'read trade' });
});

test('client_credentials with client_secret_post', async () => {
  const res = await clientCredentials(post(), { scope: 'read' });
  await verifyAccessToken(res.access_token, { clientId: clients.post.client_id, scope: 'read' });
});

test('client_credentials with private_key_jwt (ES256 client key, assertion made by oauth4webapi)', async () => {
  const res = await clientCredentials(pkjwt());
  await verifyAccessToken(res.access_token, { clientId: clients.pkjwt.client_id, scope: 'read trade' });
  // A second request: oauth4webapi makes a new assertion (new jti) each time.
  const again = await clientCredentials(pkjwt());
  assert.notEqual(again.access_token, res.access_token);
  // oauth4webapi puts the issuer in the assertion's aud; the token endpoint URL is the other
  // audience RFC 7523 allows.
  const toEndpoint = oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: clientKey.kid }, {
    [oauth.modifyAssertion]: (_header, payload) => { payload.aud = as.token_endpoint; },
  });
  const third = await clientCredentials([pkjwt()[0], toEndpoint]);
  await verifyAccessToken(third.access_token, { clientId: clients.pkjwt.client_id, scope: 'read trade' });
});

test('a wrong client secret is an invalid_client challenge that oauth4webapi recognizes', async () => {
  const [client] = basic();
  const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('not-the-secret'),
    { scope: 'read' }, insecure);
  assert.equal(res.status, 401);
  const err = await oauth.processClientCredentialsResponse(as, client, res).then(() => undefined, (e) => e);
  assert.ok(err, 'rejected');
  if (target.name === 'mandate') {
    // Mandate's contract: 401, a Basic challenge (RFC 6749 §5.2), and the JSON error body.
    assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `${err.name}: ${err.message}`);
    assert.equal(err.status, 401);
    assert.deepEqual(err.cause.map((c) => c.scheme), ['basic']);
    assert.equal(typeof err.cause[0].parameters.realm, 'string', 'a realm in the Basic challenge');
    assert.equal((await err.response.json()).error, 'invalid_client');
    assert.equal(err.response.headers.get('cache-control'), 'no-store');
  } else if (err instanceof oauth.WWWAuthenticateChallengeError) {
    assert.equal(err.cause[0].scheme, 'basic');
  } else {
    assert.ok(err instanceof oauth.ResponseBodyError, `${err.name}: ${err.message}`);
    assert.equal(err.error, 'invalid_client');
  }
});

test('authorization_details (RFC 9396) and resource (RFC 8707) in a client_credentials grant', async (t) => {
  if (!target.features.authorizationDetails) return t.skip('not configured on this target');
  const requested = [{ type: 'trading', actions: ['trade'], product_classes: ['spot'] }];
  const res = await clientCredentials(post(), {
    authorization_details: JSON.stringify(requested),
    resource: RESOURCE,
  });
  assert.ok(Array.isArray(res.authorization_details), 'authorization_details in the token response');
  const claims = await verifyAccessToken(res.access_token, { clientId: clients.post.client_id, aud: RESOURCE });
  assert.deepEqual([].concat(claims.aud), [RESOURCE], 'aud is the resource');
  assert.deepEqual(claims.authorization_details, res.authorization_details, 'token and response agree');
  const trading = claims.authorization_details.filter((d) => d.type === 'trading');
  assert.ok(trading.length >= 1, 'a trading entry');
  if (target.name === 'mandate') {
    // Mandate narrows the grant to what was asked: trade on spot, and nothing else.
    for (const d of trading) {
      for (const a of d.actions) assert.ok(requested[0].actions.includes(a), `action ${a} was not requested`);
      for (const p of d.product_classes ?? []) assert.ok(requested[0].product_classes.includes(p), `product class ${p} was not requested`);
    }
    assert.ok(trading.some((d) => d.actions.includes('trade') && d.product_classes.includes('spot')), 'trade on spot granted');
  }
});

for (const [name, who] of [['client_secret_basic', basic], ['private_key_jwt', pkjwt]]) {
  test(`introspection and revocation (${name}), through oauth4webapi`, async () => {
    let res;
    let claims;
    if (target.features.introspectsJwt) {
      res = await clientCredentials(who());
      claims = await verifyAccessToken(res.access_token, { clientId: who()[0].client_id });
    } else {
      // The peer introspects only opaque tokens: the checks below then compare with what it
      // answered to the token request.
      const { OPAQUE_RESOURCE } = await import('./lib/peer.mjs');
      res = await clientCredentials(who(), { scope: 'read trade', resource: OPAQUE_RESOURCE });
      claims = { client_id: who()[0].client_id, scope: res.scope, aud: OPAQUE_RESOURCE, iss: as.issuer };
    }

    const live = await introspect(who(), res.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, claims.client_id);
    assert.equal(live.iss, claims.iss);
    assert.deepEqual([].concat(live.aud), [].concat(claims.aud));
    assert.deepEqual(live.scope.split(' ').sort(), claims.scope.split(' ').sort());
    assert.ok(live.exp > Date.now() / 1000, 'exp in the future');
    if (target.features.introspectsJwt) {
      assert.equal(live.sub, claims.sub);
      assert.equal(live.jti, claims.jti);
      assert.equal(live.exp, claims.exp);
    }
    if (target.name === 'mandate') {
      assert.equal(live.policy, claims.policy);
      assert.deepEqual(live.authorization_details, claims.authorization_details);
    }

    assert.equal(await revoke(who(), res.access_token), undefined);
    const dead = await introspect(who(), res.access_token);
    assert.equal(dead.active, false, 'inactive after revocation');
    assert.deepEqual(Object.keys(dead), ['active'], 'nothing but active:false about a revoked token');

    // RFC 7009 §2.2: revoking an unknown token is not an error.
    assert.equal(await revoke(who(), 'not-a-token-this-server-issued'), undefined);
    assert.equal((await introspect(who(), 'not-a-token-this-server-issued')).active, false);
  });
}

test('refresh_token grant: rotation, and reuse revokes the family', async (t) => {
  if (!target.features.refreshToken) return t.skip('client_credentials issues no refresh token on this target');
  const first = await clientCredentials(refresher());
  assert.equal(typeof first.refresh_token, 'string', 'a refresh token for a client with the refresh_token grant');
  await verifyAccessToken(first.access_token, { clientId: clients.refresh.client_id, scope: 'read trade' });

  const [client, auth] = refresher();
  const second = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, first.refresh_token, insecure));
  const claims = await verifyAccessToken(second.access_token, { clientId: clients.refresh.client_id, scope: 'read trade' });
  assert.notEqual(claims.jti, (await jose.decodeJwt(first.access_token)).jti);
  assert.equal(typeof second.refresh_token, 'string', 'a rotated refresh token');
  assert.notEqual(second.refresh_token, first.refresh_token);
  assert.equal((await introspect(refresher(), second.access_token)).active, true);

  // Presenting the spent refresh token again: invalid_grant, and the family is revoked.
  const reuse = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, first.refresh_token, insecure)).then(() => undefined, (e) => e);
  assert.ok(reuse instanceof oauth.ResponseBodyError, `reuse rejected with an OAuth error (${reuse?.message})`);
  assert.equal(reuse.error, 'invalid_grant');
  assert.equal(reuse.status, 400);

  const newest = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, second.refresh_token, insecure)).then(() => undefined, (e) => e);
  assert.ok(newest instanceof oauth.ResponseBodyError && newest.error === 'invalid_grant',
    'the newest refresh token of the family is revoked too');
  assert.equal((await introspect(refresher(), second.access_token)).active, false,
    "the family's access tokens introspect as inactive");
});
