// Tokens seen from outside: independent verification of the server's access tokens with jose
// against /jwks, and client keys and assertions (honest ones and forged ones) for private_key_jwt.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as jose from 'jose';

import { ISSUER, TOKEN_ENDPOINT } from './server.mjs';

export { jose };

export const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
export const b64uJson = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
export const now = () => Math.floor(Date.now() / 1000);
export const randomJti = () => crypto.randomBytes(16).toString('base64url');

// Decodes without verifying (for assertions about what the server put in).
export function decode(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

// Verifies an access token the way a resource server would, and checks every claim of the
// contract. `expect`: {sub, clientId, aud = ISSUER, ttl, scope (exact string, order-free)}.
// Returns {header, payload}.
export async function verifyAccessToken(srv, token, expect) {
  assert.equal(typeof token, 'string', 'access_token is a string');
  const jwks = await srv.jwks();
  const { header, payload } = decode(token);
  assert.equal(header.typ, 'at+jwt', 'header typ');
  assert.equal(header.alg, 'ES256', 'header alg');
  assert.ok(header.kid, 'header kid');
  assert.ok(jwks.keys.some((k) => k.kid === header.kid), `kid ${header.kid} not in /jwks`);
  for (const k of ['jwk', 'jku', 'x5u', 'x5c', 'crit']) assert.equal(header[k], undefined, `header member ${k}`);
  const verified = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
    issuer: ISSUER, audience: expect.aud ?? ISSUER, typ: 'at+jwt', algorithms: ['ES256'],
  });
  const c = verified.payload;
  assert.equal(c.sub, expect.sub, 'sub is the client\'s subject');
  assert.equal(c.client_id, expect.clientId, 'client_id');
  assert.ok(Number.isInteger(c.iat) && Number.isInteger(c.exp), 'iat and exp are integers');
  assert.ok(Math.abs(c.iat - now()) <= 10, `iat ${c.iat} is now (${now()})`);
  if (expect.ttl !== undefined) assert.equal(c.exp - c.iat, expect.ttl, 'exp - iat = TTL');
  assert.equal(typeof c.jti, 'string', 'jti');
  assert.ok(c.jti.length >= 22, `jti too short for 128 bits in any text encoding: ${c.jti}`);
  assert.equal(typeof c.scope, 'string', 'scope is a space-separated string');
  if (expect.scope !== undefined)
    assert.deepEqual(c.scope.split(' ').sort(), expect.scope.split(' ').sort(), `scope: ${c.scope}`);
  assert.ok(Array.isArray(c.authorization_details), 'authorization_details is an array');
  for (const d of c.authorization_details) assert.equal(typeof d.type, 'string', `authorization_details type: ${JSON.stringify(d)}`);
  assert.match(String(c.policy), /^sha256:[0-9a-f]{64}$/, 'policy claim');
  return { header, payload: c };
}

// Actions granted anywhere in authorization_details, and the product classes of one action.
export function grantedActions(details) {
  return [...new Set(details.flatMap((d) => d.actions ?? []))].sort();
}
export function productsOf(details, action) {
  return [...new Set(details.filter((d) => (d.actions ?? []).includes(action)).flatMap((d) => d.product_classes ?? []))].sort();
}

// ---- client keys ----
const GEN = { ES256: ['ES256', {}], EdDSA: ['EdDSA', { crv: 'Ed25519' }], PS256: ['PS256', { modulusLength: 2048 }] };

// {alg, kid, privateKey, publicKey, publicJwk (with kid/alg/use), jwks}
export async function makeClientKey(alg, kid = `${alg.toLowerCase()}-${randomJti().slice(0, 8)}`) {
  const [a, opts] = GEN[alg];
  const { privateKey, publicKey } = await jose.generateKeyPair(a, { ...opts, extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk, jwks: { keys: [publicJwk] } };
}

// A client assertion (RFC 7523 §3). `claims` override the honest ones; a claim set to undefined
// is left out. `header` overrides the protected header.
export async function assertion(clientId, key, { claims = {}, header = {}, aud = TOKEN_ENDPOINT } = {}) {
  const t = now();
  const payload = { iss: clientId, sub: clientId, aud, jti: randomJti(), iat: t, exp: t + 60, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const h = { alg: key.alg, kid: key.kid, typ: 'JWT', ...header };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  return new jose.CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader(h).sign(key.privateKey);
}

// Unsigned pieces for hand-made forgeries.
export function honestClaims(clientId, extra = {}) {
  const t = now();
  return { iss: clientId, sub: clientId, aud: TOKEN_ENDPOINT, jti: randomJti(), iat: t, exp: t + 60, ...extra };
}
export function hs256(header, payload, secret) {
  const input = `${b64uJson(header)}.${b64uJson(payload)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}
