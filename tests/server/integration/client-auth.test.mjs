// Client authentication attacks on /token with shared secrets: wrong or partial secrets, unknown
// and disabled clients, mixed or wrong methods, malformed Basic headers, oversized identifiers.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, assertNoStore, basicAuth, formBody, eventually, describeRes } from './lib/server.mjs';
import { makeClientKey } from './lib/tokens.mjs';

let srv;
const S = () => srv;
const sec = {}; // client secrets
let pkjKey;
const cc = { grant_type: 'client_credentials', scope: 'read' };

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('client-auth');
  await srv.setSubject('acct-good');
  sec.basic = (await srv.createClient({ id: 'c-basic', subject: 'acct-good', auth: 'client_secret_basic' })).client_secret;
  sec.post = (await srv.createClient({ id: 'c-post', subject: 'acct-good', auth: 'client_secret_post' })).client_secret;
  sec.victim = (await srv.createClient({ id: 'c-disable-me', subject: 'acct-good', auth: 'client_secret_basic' })).client_secret;
  pkjKey = await makeClientKey('ES256');
  await srv.createClient({ id: 'c-pkj', subject: 'acct-good', auth: 'private_key_jwt', jwks: pkjKey.jwks });
  await srv.start();
});

// 401 invalid_client, with a Basic challenge when Basic was used.
function assertInvalidClient(res, basicUsed) {
  assertOAuthError(res, 401, 'invalid_client');
  if (basicUsed) assert.match(String(res.headers['www-authenticate']), /^Basic\b/i, `WWW-Authenticate: ${res.headers['www-authenticate']}`);
}
// A malformed request may be answered as invalid_request (400) or invalid_client (401): either,
// but consistent, and never a token.
function assertRefusedMalformed(res) {
  assert.ok(res.status === 400 || res.status === 401, `expected 400/401; got ${describeRes(res)}`);
  assertOAuthError(res, res.status, res.status === 400 ? 'invalid_request' : 'invalid_client');
}

serverTest(S, 'the right secrets work (baseline for the attacks below); secrets carry >= 128 bits', async () => {
  for (const secret of [sec.basic, sec.post, sec.victim]) {
    assert.ok(secret.length >= 22, `client secret too short for 128 bits: ${secret.length} characters`);
  }
  assert.equal(new Set([sec.basic, sec.post, sec.victim]).size, 3);
  assertOk(await srv.token(cc, { basic: ['c-basic', sec.basic] }));
  assertOk(await srv.token(cc, { post: ['c-post', sec.post] }));
});

serverTest(S, 'wrong secret: 401 invalid_client with WWW-Authenticate (Basic and post)', async () => {
  const s = sec.basic;
  for (const wrong of [s + 'x', s.slice(0, -1), s.slice(0, 8), 'x' + s.slice(1), '', s.toUpperCase() === s ? s.toLowerCase() : s.toUpperCase()]) {
    assertInvalidClient(await srv.token(cc, { basic: ['c-basic', wrong] }), true);
  }
  assertInvalidClient(await srv.token(cc, { post: ['c-post', sec.post + 'x'] }), false);
  assertInvalidClient(await srv.token(cc, { post: ['c-post', ''] }), false);
  // another client's valid secret
  assertInvalidClient(await srv.token(cc, { basic: ['c-basic', sec.post] }), true);
});

serverTest(S, 'unknown client: 401 invalid_client', async () => {
  assertInvalidClient(await srv.token(cc, { basic: ['no-such-client', sec.basic] }), true);
  assertInvalidClient(await srv.token(cc, { post: ['no-such-client', 'whatever-secret'] }), false);
  // client ids are exact: no case folding, no trimming
  assertInvalidClient(await srv.token(cc, { basic: ['C-BASIC', sec.basic] }), true);
  assertInvalidClient(await srv.token(cc, { basic: ['c-basic ', sec.basic] }), true);
});

serverTest(S, 'no client authentication at all: 401 invalid_client', async () => {
  assertInvalidClient(await srv.token(cc, {}), false);
  assertInvalidClient(await srv.token({ ...cc, client_id: 'c-post' }, {}), false);
});

serverTest(S, 'disabled client is refused within 2 s of `mandate client disable`', async () => {
  assertOk(await srv.token(cc, { basic: ['c-disable-me', sec.victim] }));
  await srv.cli(['client', 'disable', 'c-disable-me', '--data-dir', srv.dataDir]);
  const t0 = Date.now();
  const refused = await eventually(async () => (await srv.token(cc, { basic: ['c-disable-me', sec.victim] })).status === 401, 2500);
  assert.ok(refused, `still issuing ${Date.now() - t0} ms after disable`);
  assertInvalidClient(await srv.token(cc, { basic: ['c-disable-me', sec.victim] }), true);
});

serverTest(S, 'Basic and client_secret_post at once: invalid_request', async () => {
  const res = await srv.post('/token', formBody({ ...cc, client_id: 'c-post', client_secret: sec.post }),
    { headers: { authorization: basicAuth('c-basic', sec.basic) } });
  assertOAuthError(res, 400, 'invalid_request');
  // the same client both ways is still two methods
  const res2 = await srv.post('/token', formBody({ ...cc, client_id: 'c-basic', client_secret: sec.basic }),
    { headers: { authorization: basicAuth('c-basic', sec.basic) } });
  assertOAuthError(res2, 400, 'invalid_request');
});

serverTest(S, 'secret and assertion at once: invalid_request', async () => {
  const res = await srv.token({ ...cc, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'a.b.c' },
    { basic: ['c-basic', sec.basic] });
  assertOAuthError(res, 400, 'invalid_request');
});

serverTest(S, 'a client may only use its registered method', async () => {
  // basic client sending its (right) secret in the body, post client sending it in Basic
  assertInvalidClient(await srv.token(cc, { post: ['c-basic', sec.basic] }), false);
  assertInvalidClient(await srv.token(cc, { basic: ['c-post', sec.post] }), true);
});

serverTest(S, 'a secret for a private_key_jwt client: 401 invalid_client', async () => {
  for (const secret of ['', 'anything', sec.basic]) {
    assertInvalidClient(await srv.token(cc, { basic: ['c-pkj', secret] }), true);
    assertInvalidClient(await srv.token(cc, { post: ['c-pkj', secret] }), false);
  }
});

serverTest(S, 'malformed Basic headers are refused', async () => {
  const good = Buffer.from(`c-basic:${sec.basic}`).toString('base64');
  const bad = [
    'Basic !!!not-base64!!!',
    'Basic ' + Buffer.from(`c-basic${sec.basic}`).toString('base64'), // no colon
    'Basic ' + good.slice(0, -2), // truncated base64
    'Basic ' + good + '====',
    'Basic',
    'Basic ',
    'Bearer ' + good,
    'Basic ' + Buffer.from(':').toString('base64'), // empty id and secret
    'Basic ' + Buffer.from(`c-basic:${sec.basic}%`).toString('base64'), // bad percent-escape
    'Basic ' + Buffer.from(`c-basic%00:${sec.basic}`).toString('base64'), // NUL in the id
    'Basic ' + good + ' ' + good,
  ];
  for (const authorization of bad) {
    const res = await srv.post('/token', formBody(cc), { headers: { authorization } });
    assertRefusedMalformed(res);
  }
  // two Authorization headers
  const res = await srv.post('/token', formBody(cc), { headers: [['authorization', 'Basic ' + good], ['authorization', 'Basic ' + good]] });
  assertRefusedMalformed(res);
});

serverTest(S, 'very long client_id: refused without harm', async () => {
  const long = 'c'.repeat(6000);
  assertRefusedMalformed(await srv.token(cc, { basic: [long, 'secret'] }));
  assertRefusedMalformed(await srv.token(cc, { post: [long, 'secret'] }));
  const huge = 'c'.repeat(60000); // under the 64 KiB body limit
  assertRefusedMalformed(await srv.token(cc, { post: [huge, 'secret'] }));
  // a client_id that is the victim's followed by junk is another id
  assertRefusedMalformed(await srv.token(cc, { post: ['c-post' + '\u0000', sec.post] }));
});

serverTest(S, 'credentials in the query string are not accepted (RFC 6749 §2.3.1)', async () => {
  const q = `client_id=c-post&client_secret=${encodeURIComponent(sec.post)}`;
  const res = await srv.post(`/token?${q}`, formBody(cc));
  assert.ok(res.status === 400 || res.status === 401, describeRes(res));
  assert.equal(res.json?.access_token, undefined);
  assertNoStore(res);
});

serverTest(S, 'wrong secrets sharing a longer and longer prefix with the right one are all answered alike', async () => {
  // Each wrong secret shares a longer prefix with the right one: all must fail the same way.
  const s = sec.basic;
  const bodies = new Set();
  for (let n = 0; n < s.length; n += Math.max(1, Math.floor(s.length / 6))) {
    const res = await srv.token(cc, { basic: ['c-basic', s.slice(0, n) + '#'.repeat(s.length - n)] });
    assertInvalidClient(res, true);
    bodies.add(res.json.error + '|' + res.json.error_description);
  }
  assert.equal(bodies.size, 1, `error descriptions differ by prefix: ${[...bodies].join(' / ')}`);
});

finalChecks(S);
