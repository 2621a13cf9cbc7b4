// private_key_jwt (RFC 7523) attacks from security.md: replay, alg none, HS256 with the public key
// as the HMAC secret, embedded jwk, wrong aud, time claims, iss/sub, empty or foreign signatures,
// missing jti, wrong assertion type, garbage. Every refusal is 401 invalid_client, and the victim
// client still gets a token with an honest assertion right after (the refusal came from the attack,
// and the attacker cannot lock the client out).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, ASSERTION_TYPE, ISSUER, TOKEN_ENDPOINT } from './lib/server.mjs';
import { jose, makeClientKey, assertion, honestClaims, hs256, b64uJson, now, randomJti } from './lib/tokens.mjs';

let srv;
const S = () => srv;
const cc = { grant_type: 'client_credentials', scope: 'read' };
const k = {};

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('pkj');
  await srv.setSubject('acct-good');
  k.es = await makeClientKey('ES256');
  k.ps = await makeClientKey('PS256');
  k.ed = await makeClientKey('EdDSA');
  k.other = await makeClientKey('ES256');
  k.attacker = await makeClientKey('ES256');
  await srv.createClient({ id: 'bot-es', subject: 'acct-good', auth: 'private_key_jwt', jwks: k.es.jwks });
  await srv.createClient({ id: 'bot-ps', subject: 'acct-good', auth: 'private_key_jwt', jwks: k.ps.jwks });
  await srv.createClient({ id: 'bot-ed', subject: 'acct-good', auth: 'private_key_jwt', jwks: k.ed.jwks });
  await srv.createClient({ id: 'bot-other', subject: 'acct-good', auth: 'private_key_jwt', jwks: k.other.jwks });
  await srv.start();
});

function send(a, clientId = 'bot-es', type = ASSERTION_TYPE) {
  const p = { ...cc, client_assertion_type: type, client_assertion: a };
  if (clientId) p.client_id = clientId;
  return srv.token(p);
}
async function refused(a, clientId = 'bot-es') {
  assertOAuthError(await send(a, clientId), 401, 'invalid_client');
}
async function stillWorks(clientId = 'bot-es', key = k.es) {
  assertOk(await send(await assertion(clientId, key), clientId));
}

serverTest(S, 'assertion replay: the same jti twice, second refused', async () => {
  const a = await assertion('bot-es', k.es);
  assertOk(await send(a));
  await refused(a);
  // a different assertion that reuses the jti is a replay too
  const jti = randomJti();
  assertOk(await send(await assertion('bot-es', k.es, { claims: { jti } })));
  await refused(await assertion('bot-es', k.es, { claims: { jti, exp: now() + 30 } }));
  await stillWorks();
});

serverTest(S, 'assertion replay under concurrency: one jti, ten parallel requests, at most one succeeds', async () => {
  const a = await assertion('bot-es', k.es);
  const results = await Promise.all(Array.from({ length: 10 }, () => send(a)));
  const ok = results.filter((r) => r.status === 200).length;
  assert.ok(ok <= 1, `${ok} of 10 concurrent uses of one assertion succeeded`);
  for (const r of results) if (r.status !== 200) assertOAuthError(r, 401, 'invalid_client');
});

serverTest(S, 'alg none (unsigned) is refused', async () => {
  const claims = honestClaims('bot-es');
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    await refused(`${b64uJson({ alg, typ: 'JWT' })}.${b64uJson(claims)}.`);
    await refused(`${b64uJson({ alg, kid: k.es.kid })}.${b64uJson({ ...claims, jti: randomJti() })}.`);
  }
  await stillWorks();
});

serverTest(S, 'HS256 signed with the client\'s public key as the HMAC secret is refused (key confusion)', async () => {
  for (const [id, key] of [['bot-es', k.es], ['bot-ps', k.ps], ['bot-ed', k.ed]]) {
    const pem = await jose.exportSPKI(key.publicKey);
    const secrets = [pem, pem.trim(), JSON.stringify(key.publicJwk), JSON.stringify(key.jwks),
      crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' })];
    for (const secret of secrets)
      for (const alg of ['HS256', 'HS384', 'HS512'])
        await refused(hs256({ alg, kid: key.kid, typ: 'JWT' }, honestClaims(id), secret), id);
    await stillWorks(id, key);
  }
});

serverTest(S, 'a key injected in a jwk header (signed by the attacker) is ignored', async () => {
  const jwk = { ...k.attacker.publicJwk };
  delete jwk.kid;
  await refused(await assertion('bot-es', k.attacker, { header: { jwk, kid: undefined } }));
  await refused(await assertion('bot-es', k.attacker, { header: { jwk, kid: k.es.kid } }));
  await refused(await assertion('bot-es', k.attacker, { header: { jwk: k.attacker.publicJwk, kid: k.attacker.kid } }));
  // jku / x5u pointing elsewhere are not fetched or trusted either
  await refused(await assertion('bot-es', k.attacker, { header: { jku: 'http://127.0.0.1:1/jwks', kid: k.attacker.kid } }));
  await stillWorks();
});

serverTest(S, 'wrong aud is refused', async () => {
  for (const aud of ['https://evil.example', `${ISSUER}/introspect`, `${ISSUER}/`, `${ISSUER}/token/`, ISSUER.toUpperCase(),
    `http://127.0.0.1:${srv.port}/token`, '', [], ['https://evil.example']]) {
    await refused(await assertion('bot-es', k.es, { aud }));
  }
  await refused(await assertion('bot-es', k.es, { claims: { aud: undefined } }));
  // aud as an array containing the issuer is allowed by RFC 7523; the attacker cannot use it to
  // add a foreign audience alongside, but we only require the plain forms to work.
  await stillWorks();
});

serverTest(S, 'expired exp is refused; exp is required', async () => {
  const t = now();
  await refused(await assertion('bot-es', k.es, { claims: { iat: t - 600, exp: t - 300 } }));
  await refused(await assertion('bot-es', k.es, { claims: { iat: t - 3600, exp: t - 3000 } }));
  await refused(await assertion('bot-es', k.es, { claims: { exp: undefined } }));
  await refused(await assertion('bot-es', k.es, { claims: { exp: String(t + 60) } }));
  await stillWorks();
});

serverTest(S, 'exp too far in the future is refused', async () => {
  const t = now();
  await refused(await assertion('bot-es', k.es, { claims: { exp: t + 365 * 86400 } }));
  await refused(await assertion('bot-es', k.es, { claims: { exp: t + 86400 } }));
  await refused(await assertion('bot-es', k.es, { claims: { exp: 2 ** 53 } }));
  await stillWorks();
});

serverTest(S, 'nbf or iat in the future (beyond skew) is refused', async () => {
  const t = now();
  await refused(await assertion('bot-es', k.es, { claims: { nbf: t + 3600, exp: t + 3660 } }));
  await refused(await assertion('bot-es', k.es, { claims: { nbf: t + 120, exp: t + 180 } }));
  await refused(await assertion('bot-es', k.es, { claims: { iat: t + 3600, exp: t + 3660 } }));
  // FAPI 2.0: up to 10 s in the future is accepted
  assertOk(await send(await assertion('bot-es', k.es, { claims: { iat: t + 5, nbf: t + 5, exp: t + 65 } })));
});

serverTest(S, 'iss or sub other than the client_id is refused', async () => {
  await refused(await assertion('bot-es', k.es, { claims: { iss: 'bot-other' } }));
  await refused(await assertion('bot-es', k.es, { claims: { sub: 'bot-other' } }));
  await refused(await assertion('bot-es', k.es, { claims: { iss: 'bot-other', sub: 'bot-other' } }));
  await refused(await assertion('bot-es', k.es, { claims: { iss: undefined } }));
  await refused(await assertion('bot-es', k.es, { claims: { sub: undefined } }));
  // client_id in the body naming another client than the assertion
  await refused(await assertion('bot-es', k.es), 'bot-other');
  await stillWorks();
});

serverTest(S, 'empty or truncated signature is refused', async () => {
  const a = await assertion('bot-es', k.es);
  const [h, p, s] = a.split('.');
  await refused(`${h}.${p}.`);
  await refused(`${h}.${p}`);
  await refused(`${h}.${p}.${s.slice(0, 20)}`);
  await refused(`${h}.${p}.${Buffer.alloc(64).toString('base64url')}`);
  // a valid signature over other claims, moved onto these claims
  const other = await assertion('bot-es', k.es, { claims: { exp: now() + 30 } });
  await refused(`${h}.${other.split('.')[1]}.${s}`);
  await stillWorks();
});

serverTest(S, 'a signature from another client\'s key is refused', async () => {
  // other client's registered key, with its own kid and with the victim's kid
  await refused(await assertion('bot-es', k.other));
  await refused(await assertion('bot-es', k.other, { header: { kid: k.es.kid } }));
  await refused(await assertion('bot-es', k.attacker, { header: { kid: k.es.kid } }));
  // the right key under the wrong algorithm label
  // (an Ed25519 signature is 64 bytes, the size of an ES256 one: the key's algorithm must decide)
  const input = `${b64uJson({ alg: 'ES256', kid: k.ed.kid })}.${b64uJson(honestClaims('bot-ed'))}`;
  const edKey = k.ed.privateKey instanceof crypto.KeyObject ? k.ed.privateKey : crypto.KeyObject.from(k.ed.privateKey);
  await refused(`${input}.${crypto.sign(null, Buffer.from(input), edKey).toString('base64url')}`, 'bot-ed');
  await stillWorks('bot-ed', k.ed);
  await stillWorks();
});

serverTest(S, 'missing jti is refused', async () => {
  await refused(await assertion('bot-es', k.es, { claims: { jti: undefined } }));
  await refused(await assertion('bot-es', k.es, { claims: { jti: '' } }));
  await refused(await assertion('bot-es', k.es, { claims: { jti: 12345 } }));
  await stillWorks();
});

serverTest(S, 'a wrong or missing client_assertion_type is refused', async () => {
  for (const type of ['urn:ietf:params:oauth:client-assertion-type:saml2-bearer', 'jwt-bearer', '', ASSERTION_TYPE.toUpperCase(), ASSERTION_TYPE + ' ']) {
    const res = await send(await assertion('bot-es', k.es), 'bot-es', type);
    assert.ok(res.status === 400 || res.status === 401, `type ${JSON.stringify(type)}: ${res.status} ${res.text}`);
    assertOAuthError(res, res.status, res.status === 400 ? 'invalid_request' : 'invalid_client');
  }
  const res = await srv.token({ ...cc, client_id: 'bot-es', client_assertion: await assertion('bot-es', k.es) });
  assert.ok(res.status === 400 || res.status === 401, `no type: ${res.status} ${res.text}`);
  assert.equal(res.json?.access_token, undefined);
  await stillWorks();
});

serverTest(S, 'garbage assertions are refused', async () => {
  const big = 'A'.repeat(50000);
  const garbage = ['garbage', 'a.b.c', '...', '', 'eyJ.eyJ.eyJ', `${b64uJson({ alg: 'ES256' })}.${b64uJson('not an object')}.AAAA`,
    `${b64uJson([1, 2])}.${b64uJson({})}.AAAA`, `${b64uJson({ alg: 'ES256', crit: ['x'], x: 1 })}.${b64uJson(honestClaims('bot-es'))}.AAAA`,
    `${big}.${big}.${big}`.slice(0, 60000), Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('latin1'),
    `${Buffer.from('{"alg":"ES256","alg":"none"}').toString('base64url')}.${b64uJson(honestClaims('bot-es'))}.AAAA`,
    `${'W'.repeat(10000)}`];
  for (const g of garbage) {
    const res = await send(g);
    assert.ok(res.status === 400 || res.status === 401 || res.status === 413, `${g.slice(0, 40)}: ${res.status} ${res.text}`);
    assert.equal(res.json?.access_token, undefined);
    if (res.status !== 413) assertOAuthError(res, res.status, res.status === 400 ? 'invalid_request' : 'invalid_client');
  }
  await stillWorks();
});

serverTest(S, 'an assertion signed for one client cannot authenticate another (client_id mismatch)', async () => {
  // bot-other's honest assertion, sent as bot-es
  await refused(await assertion('bot-other', k.other), 'bot-es');
  await stillWorks('bot-other', k.other);
});

serverTest(S, 'private_key_jwt with the token endpoint URL as aud and with the issuer both work', async () => {
  assertOk(await send(await assertion('bot-es', k.es, { aud: TOKEN_ENDPOINT })));
  assertOk(await send(await assertion('bot-es', k.es, { aud: ISSUER })));
  assertOk(await send(await assertion('bot-ps', k.ps), 'bot-ps'));
});

serverTest(S, 'client registration refuses unsafe client keys (private members, symmetric, RSA < 2048, other curves)', async () => {
  const rsa1024 = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  const cases = {
    'private EC key': { keys: [{ ...(await jose.exportJWK(k.es.privateKey)), kid: 'priv', alg: 'ES256' }] },
    'symmetric key': { keys: [{ kty: 'oct', k: Buffer.from('a shared secret of thirty-two b.').toString('base64url'), kid: 'oct', alg: 'HS256' }] },
    'RSA 1024': { keys: [{ ...rsa1024, kid: 'rsa1024', alg: 'PS256' }] },
    'EC P-384': { keys: [{ ...p384, kid: 'p384', alg: 'ES384' }] },
    'alg none': { keys: [{ ...k.es.publicJwk, kid: 'none', alg: 'none' }] },
    'no keys': { keys: [] },
    'not a JWKS': [k.es.publicJwk],
  };
  let i = 0;
  for (const [what, jwks] of Object.entries(cases)) {
    const f = path.join(srv.dir, `unsafe-${i}.json`);
    fs.writeFileSync(f, JSON.stringify(jwks));
    const r = await srv.cli(['client', 'create', '--data-dir', srv.dataDir, ...(await srv.schemaArgs()), '--id', `unsafe-${i++}`,
      '--subject', 'acct-good', '--auth', 'private_key_jwt', '--grant', 'client_credentials', '--scope', 'read', '--jwks', f, '--json'], { allowFail: true });
    assert.notEqual(r.code, 0, `client create accepted a JWKS with ${what}: ${r.stdout}`);
  }
});

finalChecks(S);
