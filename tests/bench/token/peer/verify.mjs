// Gets one token from a server's token endpoint (client_credentials, HTTP Basic) and verifies it
// against the server's /jwks with jose: signature, alg ES256, typ at+jwt, iss, exp, client_id,
// and the scope asked for (all of it).
//
//   node verify.mjs BASE_URL CLIENT_ID CLIENT_SECRET FORM_BODY
//
// Prints `verify: ok alg=ES256 typ=at+jwt kid=... aud=... claims=a,b,...` or fails (exit 1).
import * as jose from 'jose';

const [base, clientId, secret, form] = process.argv.slice(2);
if (!form) {
  console.error('usage: node verify.mjs BASE_URL CLIENT_ID CLIENT_SECRET FORM_BODY');
  process.exit(2);
}

function fail(why) {
  console.error(`verify: ${base}: ${why}`);
  process.exit(1);
}

// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic's base64.
const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
const res = await fetch(`${base}/token`, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`,
  },
  body: form,
});
const text = await res.text();
if (res.status !== 200) fail(`token endpoint answered ${res.status}: ${text.slice(0, 300)}`);
const body = JSON.parse(text);
if (typeof body.access_token !== 'string') fail(`no access_token in ${text.slice(0, 300)}`);

const jwks = jose.createRemoteJWKSet(new URL(`${base}/jwks`));
let verified;
try {
  verified = await jose.jwtVerify(body.access_token, jwks, {
    algorithms: ['ES256'],
    typ: 'at+jwt',
    issuer: base,
    requiredClaims: ['exp', 'iat', 'jti', 'client_id', 'aud', 'sub'],
  });
} catch (e) {
  fail(`the token does not verify against /jwks: ${e.code ?? ''} ${e.message}`);
}
const { payload, protectedHeader } = verified;
if (payload.client_id !== clientId) fail(`client_id ${payload.client_id}, expected ${clientId}`);
// The benchmark must measure the grant it asks for, not a narrowed one.
const asked = new URLSearchParams(form).get('scope');
if (asked && [...new Set(String(payload.scope).split(' '))].sort().join(' ') !== asked.split(' ').sort().join(' ')) {
  fail(`scope "${payload.scope}" in the token, "${asked}" requested`);
}
if (!protectedHeader.kid) fail('no kid in the header');
console.log(`verify: ok alg=${protectedHeader.alg} typ=${protectedHeader.typ} kid=${protectedHeader.kid} ` +
  `aud=${[].concat(payload.aud).join(',')} bytes=${body.access_token.length} claims=${Object.keys(payload).join(',')}`);
