// Happy paths of the client credentials grant with every client authentication method, each
// token verified independently against /jwks; narrowing by scope, resource and
// authorization_details; the policy's decision in the token; discovery and /jwks.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, assertNoStore, ISSUER, GOOD_SUBJECT } from './lib/server.mjs';
import { verifyAccessToken, makeClientKey, assertion, grantedActions, productsOf, decode } from './lib/tokens.mjs';

let srv;
const keys = {};
const sec = {}; // client secrets by client id
const TTL = 600;

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('issuance');
  await srv.setSubject('acct-good', GOOD_SUBJECT);
  await srv.setSubject('acct-tier0', { ...GOOD_SUBJECT, kyc_tier: 0 });
  await srv.setSubject('acct-tier1', { ...GOOD_SUBJECT, kyc_tier: 1 });
  await srv.setSubject('acct-kp', { ...GOOD_SUBJECT, residence: 'KP' });
  sec.basic = (await srv.createClient({ id: 'web-basic', subject: 'acct-good', auth: 'client_secret_basic', ttl: TTL })).client_secret;
  sec.post = (await srv.createClient({ id: 'web-post', subject: 'acct-good', auth: 'client_secret_post', ttl: TTL })).client_secret;
  for (const alg of ['ES256', 'EdDSA', 'PS256']) {
    keys[alg] = await makeClientKey(alg);
    await srv.createClient({ id: `pkj-${alg}`, subject: 'acct-good', auth: 'private_key_jwt', jwks: keys[alg].jwks, ttl: TTL });
  }
  sec.tier0 = (await srv.createClient({ id: 'web-tier0', subject: 'acct-tier0', scope: 'read trade', ttl: TTL })).client_secret;
  sec.tier1 = (await srv.createClient({ id: 'web-tier1', subject: 'acct-tier1', scope: 'read trade', ttl: TTL })).client_secret;
  sec.kp = (await srv.createClient({ id: 'web-kp', subject: 'acct-kp', scope: 'read trade', ttl: TTL })).client_secret;
  sec.bot = (await srv.createClient({ id: 'bot-allowed', subject: 'acct-good', kind: 'trading_bot', ttl: 3600,
    ipAllowlist: ['127.0.0.1/32'] })).client_secret;
  sec.botOff = (await srv.createClient({ id: 'bot-elsewhere', subject: 'acct-good', kind: 'trading_bot', ttl: 300,
    ipAllowlist: ['203.0.113.0/24'] })).client_secret;
  sec.longttl = (await srv.createClient({ id: 'web-long-ttl', subject: 'acct-good', ttl: 86400 })).client_secret;
  sec.readonly = (await srv.createClient({ id: 'web-readonly', subject: 'acct-good', scope: 'read', ttl: TTL })).client_secret;
  sec.withdraw = (await srv.createClient({ id: 'web-withdraw', subject: 'acct-good', scope: 'read trade withdraw', ttl: TTL })).client_secret;
  await srv.start();
});
const S = () => srv;
const cc = { grant_type: 'client_credentials' };

serverTest(S, 'client_secret_basic: token verified against /jwks with every claim', async () => {
  const res = await srv.token({ ...cc, scope: 'read trade' }, { basic: ['web-basic', sec.basic] });
  const body = assertOk(res);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, TTL);
  assert.deepEqual(body.scope.split(' ').sort(), ['read', 'trade']);
  assert.ok(Array.isArray(body.authorization_details), 'authorization_details in the response');
  assert.equal(body.refresh_token, undefined, 'no refresh token without the refresh_token grant');
  const { payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-basic', ttl: TTL, scope: 'read trade' });
  assert.deepEqual(payload.authorization_details, body.authorization_details, 'response and token agree');
  for (const a of grantedActions(payload.authorization_details)) assert.ok(['read', 'trade'].includes(a), `action ${a} not asked for`);
  assert.ok(grantedActions(payload.authorization_details).includes('trade'), 'trade granted in authorization_details');
  assert.ok(productsOf(payload.authorization_details, 'trade').includes('spot'), 'trade on spot granted');
});

serverTest(S, 'client_secret_post: token verified against /jwks', async () => {
  const body = assertOk(await srv.token({ ...cc, scope: 'read trade' }, { post: ['web-post', sec.post] }));
  await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-post', ttl: TTL, scope: 'read trade' });
});

for (const alg of ['ES256', 'EdDSA', 'PS256']) {
  serverTest(S, `private_key_jwt with an ${alg} client key: token verified against /jwks`, async () => {
    const id = `pkj-${alg}`;
    // aud = token endpoint URL, then aud = issuer: both are allowed (contract)
    for (const aud of [`${ISSUER}/token`, ISSUER]) {
      const a = await assertion(id, keys[alg], { aud });
      const body = assertOk(await srv.token({ ...cc, scope: 'read trade' }, { assertion: a, clientId: id }));
      await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: id, ttl: TTL, scope: 'read trade' });
    }
    // client_id in the body is optional with an assertion (RFC 7523 §3)
    const body = assertOk(await srv.token({ ...cc, scope: 'read' }, { assertion: await assertion(id, keys[alg]) }));
    await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: id, ttl: TTL, scope: 'read' });
  });
}

serverTest(S, 'every token has a fresh jti', async () => {
  const jtis = new Set();
  for (let i = 0; i < 5; i++) {
    const body = assertOk(await srv.token(cc, { basic: ['web-basic', sec.basic] }));
    jtis.add(decode(body.access_token).payload.jti);
  }
  assert.equal(jtis.size, 5);
});

serverTest(S, 'scope narrowing: asking "read" gives only read', async () => {
  const body = assertOk(await srv.token({ ...cc, scope: 'read' }, { basic: ['web-basic', sec.basic] }));
  assert.equal(body.scope, 'read');
  const { payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-basic', ttl: TTL, scope: 'read' });
  assert.ok(!grantedActions(payload.authorization_details).includes('trade'), `trade granted: ${JSON.stringify(payload.authorization_details)}`);
});

serverTest(S, 'a scope the client is not registered for is refused (invalid_scope)', async () => {
  assertOAuthError(await srv.token({ ...cc, scope: 'read withdraw' }, { basic: ['web-basic', sec.basic] }), 400, 'invalid_scope');
  assertOAuthError(await srv.token({ ...cc, scope: 'admin' }, { basic: ['web-basic', sec.basic] }), 400, 'invalid_scope');
});

serverTest(S, 'resource parameter becomes the audience', async () => {
  const resource = 'https://api.venue.example';
  const body = assertOk(await srv.token({ ...cc, scope: 'read', resource }, { basic: ['web-basic', sec.basic] }));
  const { payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-basic', aud: resource, ttl: TTL });
  assert.ok(payload.aud === resource || (Array.isArray(payload.aud) && payload.aud.length === 1 && payload.aud[0] === resource), `aud ${JSON.stringify(payload.aud)}`);
});

serverTest(S, 'a resource that is not an absolute URI without fragment is refused (RFC 8707 §2)', async () => {
  for (const resource of ['api.venue.example', 'https://api.venue.example/#frag']) {
    const res = await srv.token({ ...cc, resource }, { basic: ['web-basic', sec.basic] });
    assert.equal(res.status, 400, `resource ${resource}: ${res.status} ${res.text}`);
    assert.ok(['invalid_target', 'invalid_request'].includes(res.json?.error), `resource ${resource}: ${res.text}`);
    assertNoStore(res);
  }
});

serverTest(S, 'authorization_details narrowing: trade on spot only gives exactly that', async () => {
  const ask = [{ type: 'trading', actions: ['trade'], product_classes: ['spot'] }];
  const body = assertOk(await srv.token({ ...cc, authorization_details: JSON.stringify(ask) }, { basic: ['web-basic', sec.basic] }));
  const { payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-basic', ttl: TTL });
  const d = payload.authorization_details;
  assert.deepEqual(grantedActions(d), ['trade'], `actions: ${JSON.stringify(d)}`);
  assert.deepEqual(productsOf(d, 'trade'), ['spot'], `product classes: ${JSON.stringify(d)}`);
  assert.deepEqual(body.authorization_details, d);
});

serverTest(S, 'policy: a subject denied everything asked gets invalid_scope naming the denying rule (KYC tier 0)', async () => {
  const res = await srv.token({ ...cc, scope: 'trade' }, { basic: ['web-tier0', sec.tier0] });
  assertOAuthError(res, 400, 'invalid_scope');
  assert.match(String(res.json.error_description), /kyc_tiers\.unverified/, `error_description: ${res.json.error_description}`);
});

serverTest(S, 'policy: a resident of a sanctioned country gets invalid_scope naming the OFAC rule', async () => {
  const res = await srv.token({ ...cc, scope: 'read trade' }, { basic: ['web-kp', sec.kp] });
  assertOAuthError(res, 400, 'invalid_scope');
  assert.match(String(res.json.error_description), /ofac_sanctions\.residence/, `error_description: ${res.json.error_description}`);
});

serverTest(S, 'policy: a subject permitted some of what it asks gets only that', async () => {
  // tier 0 may read but not trade
  let body = assertOk(await srv.token({ ...cc, scope: 'read trade' }, { basic: ['web-tier0', sec.tier0] }));
  assert.equal(body.scope, 'read');
  let { payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-tier0', clientId: 'web-tier0', ttl: TTL, scope: 'read' });
  assert.ok(!grantedActions(payload.authorization_details).includes('trade'), JSON.stringify(payload.authorization_details));
  // tier 1 trades spot only
  body = assertOk(await srv.token({ ...cc, scope: 'read trade' }, { basic: ['web-tier1', sec.tier1] }));
  ({ payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-tier1', clientId: 'web-tier1', ttl: TTL, scope: 'read trade' }));
  assert.deepEqual(productsOf(payload.authorization_details, 'trade'), ['spot'], JSON.stringify(payload.authorization_details));
  // and the good subject trades derivatives too (the difference comes from the policy)
  body = assertOk(await srv.token({ ...cc, scope: 'read trade' }, { basic: ['web-basic', sec.basic] }));
  ({ payload } = await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-basic', ttl: TTL }));
  assert.ok(productsOf(payload.authorization_details, 'trade').includes('future'), JSON.stringify(payload.authorization_details));
});

serverTest(S, 'policy obligations: a trading bot token is capped at 5 minutes; off its IP allowlist it may not trade', async () => {
  const body = assertOk(await srv.token({ ...cc, scope: 'read trade' }, { basic: ['bot-allowed', sec.bot] }));
  assert.equal(body.expires_in, 300);
  await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'bot-allowed', ttl: 300, scope: 'read trade' });
  const res = await srv.token({ ...cc, scope: 'trade' }, { basic: ['bot-elsewhere', sec.botOff] });
  assertOAuthError(res, 400, 'invalid_scope');
  assert.match(String(res.json.error_description), /venue_bot_allowlist\.bot_ip_allowlist/, res.json.error_description);
});

serverTest(S, 'policy hash in the token is the live bundle of /metrics', async () => {
  const body = assertOk(await srv.token(cc, { basic: ['web-basic', sec.basic] }));
  const { policy } = decode(body.access_token).payload;
  assert.match(await srv.metrics(), new RegExp(`mandate_policy_info\\{hash="${policy}"\\} 1`));
});

serverTest(S, 'discovery: both well-known documents, same content, exact issuer', async () => {
  const a = await srv.request('GET', '/.well-known/oauth-authorization-server');
  const b = await srv.request('GET', '/.well-known/openid-configuration');
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  assert.match(String(a.headers['content-type']), /^application\/json/);
  assert.deepEqual(a.json, b.json);
  const m = a.json;
  assert.equal(m.issuer, ISSUER);
  assert.equal(m.token_endpoint, `${ISSUER}/token`);
  assert.equal(m.jwks_uri, `${ISSUER}/jwks`);
  assert.equal(m.introspection_endpoint, `${ISSUER}/introspect`);
  assert.equal(m.revocation_endpoint, `${ISSUER}/revoke`);
  assert.deepEqual([...m.token_endpoint_auth_methods_supported].sort(), ['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
  assert.deepEqual([...m.token_endpoint_auth_signing_alg_values_supported].sort(), ['ES256', 'EdDSA', 'PS256']);
  assert.ok(m.grant_types_supported.includes('client_credentials'));
  assert.ok(m.grant_types_supported.includes('refresh_token'));
  for (const g of ['password', 'implicit']) assert.ok(!m.grant_types_supported.includes(g), `grant ${g} advertised`);
  assert.ok(m.authorization_details_types_supported.includes('trading'));
  for (const s of ['read', 'trade', 'withdraw', 'transfer', 'block_trade']) assert.ok(m.scopes_supported.includes(s), `scope ${s}`);
  // the issuer comes from the configuration, not from the Host header
  const evil = await srv.request('GET', '/.well-known/oauth-authorization-server', { headers: { host: 'evil.example' } });
  assert.equal(evil.json?.issuer, ISSUER);
});

serverTest(S, '/jwks publishes public keys only', async () => {
  const r = await srv.request('GET', '/jwks');
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.json.keys) && r.json.keys.length >= 1);
  for (const k of r.json.keys) {
    assert.ok(k.kid && k.alg && k.use === 'sig', JSON.stringify(k));
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) assert.equal(k[priv], undefined, `private member ${priv} in /jwks`);
    assert.notEqual(k.kty, 'oct');
  }
  assert.equal(new Set(r.json.keys.map((k) => k.kid)).size, r.json.keys.length, 'kids are unique');
});

serverTest(S, 'authorization_details cannot reach past the client\'s registered scope', async () => {
  const ask = [{ type: 'trading', actions: ['trade'], product_classes: ['spot'] }];
  const res = await srv.token({ ...cc, authorization_details: JSON.stringify(ask) }, { basic: ['web-readonly', sec.readonly] });
  if (res.status === 200) {
    const d = decode(res.json.access_token).payload;
    assert.ok(!grantedActions(d.authorization_details).includes('trade'), `read-only client got trade: ${JSON.stringify(d.authorization_details)}`);
    assert.ok(!d.scope.split(' ').includes('trade'), `read-only client got trade scope: ${d.scope}`);
  } else {
    assert.equal(res.status, 400, `${res.status} ${res.text}`);
    assert.ok(['invalid_scope', 'invalid_authorization_details'].includes(res.json?.error), res.text);
    assertNoStore(res);
  }
});

serverTest(S, 'limits asked in authorization_details never exceed what the policy grants', async () => {
  const plain = assertOk(await srv.token({ ...cc, scope: 'trade' }, { basic: ['web-basic', sec.basic] }));
  const base = decode(plain.access_token).payload.authorization_details;
  const limitOf = (details, name) => details.filter((d) => d.limits && name in d.limits).map((d) => Number(d.limits[name]));
  const ask = [{ type: 'trading', actions: ['trade'], product_classes: ['spot', 'future', 'cfd'],
    limits: { max_leverage: 1000, max_order_notional_usd: 1e12 } }];
  const res = await srv.token({ ...cc, authorization_details: JSON.stringify(ask) }, { basic: ['web-basic', sec.basic] });
  // a server that does not take limits in requests refuses them: as safe as capping them
  if (res.status === 400) return assertOAuthError(res, 400, 'invalid_authorization_details');
  const body = assertOk(res);
  const got = decode(body.access_token).payload.authorization_details;
  for (const name of ['max_leverage', 'max_order_notional_usd']) {
    const granted = limitOf(got, name);
    const policyMax = Math.max(...limitOf(base, name), -Infinity);
    for (const v of granted) assert.ok(v <= policyMax, `${name} ${v} exceeds the policy's ${policyMax}: ${JSON.stringify(got)}`);
    if (granted.length === 0) assert.equal(limitOf(base, name).length, 0, `${name} limit dropped by asking a higher one: ${JSON.stringify(got)}`);
  }
});

serverTest(S, 'withdraw needs MFA (AAL2, recent authentication): a client secret does not get it', async () => {
  const res = await srv.token({ ...cc, scope: 'read withdraw' }, { basic: ['web-withdraw', sec.withdraw] });
  if (res.status === 200) {
    const d = decode(res.json.access_token).payload;
    assert.ok(!d.scope.split(' ').includes('withdraw'), `withdraw granted with a shared secret: ${d.scope}`);
    assert.ok(!grantedActions(d.authorization_details).includes('withdraw'), JSON.stringify(d.authorization_details));
  } else {
    assert.ok(res.status === 400 || res.status === 401 || res.status === 403, `${res.status} ${res.text}`);
    assertNoStore(res);
  }
});

serverTest(S, 'forwarding headers do not move a trading bot onto its IP allowlist', async () => {
  for (const headers of [{ 'x-forwarded-for': '203.0.113.10' }, { forwarded: 'for=203.0.113.10' }, { 'x-real-ip': '203.0.113.10' },
    { 'x-forwarded-for': '203.0.113.10, 127.0.0.1' }, { 'x-client-ip': '203.0.113.10', 'true-client-ip': '203.0.113.10' }]) {
    const res = await srv.token({ ...cc, scope: 'trade' }, { basic: ['bot-elsewhere', sec.botOff] }, { headers });
    assertOAuthError(res, 400, 'invalid_scope');
  }
  // and do not move an allowed bot off it either (the header is ignored, not merely distrusted)
  assertOk(await srv.token({ ...cc, scope: 'trade' }, { basic: ['bot-allowed', sec.bot] }, { headers: { 'x-forwarded-for': '198.51.100.7' } }));
});

serverTest(S, 'huge, repeated and odd scope strings are refused cleanly', async () => {
  for (const scope of ['read '.repeat(5000).trim(), 'read\ttrade', 'read  trade', ' read', 'r\u00e9ad', 'READ', 'read\u0000', 'read trade read']) {
    const res = await srv.token({ ...cc, scope }, { basic: ['web-basic', sec.basic] });
    if (res.status === 200) {
      // a tolerant server may de-duplicate; it must never grant more than read and trade
      for (const a of res.json.scope.split(' ')) assert.ok(['read', 'trade'].includes(a), `scope ${JSON.stringify(scope.slice(0, 30))} gave ${res.json.scope}`);
      assertNoStore(res);
    } else {
      assert.equal(res.status, 400, `scope ${JSON.stringify(scope.slice(0, 30))}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.ok(['invalid_scope', 'invalid_request'].includes(res.json?.error), res.text.slice(0, 200));
      assertNoStore(res);
    }
  }
});

serverTest(S, 'policy obligations: a web client asking for a day-long TTL gets the policy\'s 1 hour cap', async () => {
  const body = assertOk(await srv.token({ ...cc, scope: 'read' }, { basic: ['web-long-ttl', sec.longttl] }));
  assert.equal(body.expires_in, 3600);
  await verifyAccessToken(srv, body.access_token, { sub: 'acct-good', clientId: 'web-long-ttl', ttl: 3600, scope: 'read' });
});

finalChecks(S);
