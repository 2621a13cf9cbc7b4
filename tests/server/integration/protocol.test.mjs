// The token endpoint as a protocol and the HTTP layer under it: grant types, methods, content
// types, duplicate parameters, size limits, malformed HTTP on a raw socket, malformed
// authorization_details, a slowloris, and a flood of garbage.
import assert from 'node:assert/strict';
import net from 'node:net';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, assertOk, assertOAuthError, assertNoStore, basicAuth, formBody, describeRes, sleep } from './lib/server.mjs';

let srv;
const S = () => srv;
let C;
const cc = { grant_type: 'client_credentials', scope: 'read' };
const auth = () => ({ basic: ['proto', C.client_secret] });

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('protocol');
  await srv.setSubject('acct-good');
  C = await srv.createClient({ id: 'proto', subject: 'acct-good' });
  await srv.start();
});

function rawPost(body, extraHeaders = '') {
  return `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth('proto', C.client_secret)}\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;
}

serverTest(S, 'unknown grant_type: unsupported_grant_type', async () => {
  for (const g of ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'CLIENT_CREDENTIALS', 'client_credentials ']) {
    assertOAuthError(await srv.token({ grant_type: g }, auth()), 400, 'unsupported_grant_type');
  }
});

serverTest(S, 'missing grant_type: invalid_request', async () => {
  assertOAuthError(await srv.token({ scope: 'read' }, auth()), 400, 'invalid_request');
});

serverTest(S, 'parameters sent without a value are treated as omitted (RFC 6749 §3.1)', async () => {
  // grant_type= is a missing grant_type; scope= and resource= are no scope and no resource
  const g = await srv.token({ grant_type: '' }, auth());
  const sc = await srv.token({ grant_type: 'client_credentials', scope: '' }, auth());
  const rs = await srv.token({ grant_type: 'client_credentials', scope: 'read', resource: '' }, auth());
  assert.deepEqual(
    { grantType: `${g.status} ${g.json?.error}`, scope: `${sc.status} ${sc.json?.error}`, resource: `${rs.status} ${rs.json?.error}` },
    { grantType: '400 invalid_request', scope: '200 undefined', resource: '200 undefined' });
});

serverTest(S, 'no CORS on the token endpoint', async () => {
  const pre = await srv.request('OPTIONS', '/token', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.headers['access-control-allow-origin'], undefined, 'preflight allowed');
  const res = await srv.token(cc, auth(), { headers: { origin: 'https://evil.example' } });
  assertOk(res);
  assert.equal(res.headers['access-control-allow-origin'], undefined, 'token response readable cross-origin');
  assert.equal(res.headers['access-control-allow-credentials'], undefined);
});

serverTest(S, 'GET /token: 405 or invalid_request, never a token', async () => {
  const res = await srv.request('GET', '/token?grant_type=client_credentials', { headers: { authorization: basicAuth('proto', C.client_secret) } });
  assert.ok(res.status === 405 || (res.status === 400 && res.json?.error === 'invalid_request'), describeRes(res));
  assert.equal(res.json?.access_token, undefined);
  if (res.status === 405) assert.match(String(res.headers.allow), /POST/, 'Allow header on 405');
  for (const m of ['PUT', 'DELETE', 'PATCH']) {
    const r = await srv.request(m, '/token', { headers: { authorization: basicAuth('proto', C.client_secret), 'content-type': 'application/x-www-form-urlencoded' }, body: formBody(cc) });
    assert.ok(r.status === 405 || r.status === 400, `${m} /token: ${describeRes(r)}`);
    assert.equal(r.json?.access_token, undefined);
  }
});

serverTest(S, 'wrong Content-Type: refused', async () => {
  const body = formBody(cc);
  for (const ct of ['application/json', 'text/plain', 'multipart/form-data; boundary=x', null]) {
    const res = await srv.post('/token', ct === 'application/json' ? JSON.stringify(cc) : body,
      { headers: { authorization: basicAuth('proto', C.client_secret) }, contentType: ct });
    assert.ok(res.status === 415 || (res.status === 400 && res.json?.error === 'invalid_request'), `Content-Type ${ct}: ${describeRes(res)}`);
    assert.equal(res.json?.access_token, undefined);
    assertNoStore(res);
  }
  // a charset parameter is fine
  assertOk(await srv.post('/token', body, { headers: { authorization: basicAuth('proto', C.client_secret) }, contentType: 'application/x-www-form-urlencoded; charset=UTF-8' }));
});

serverTest(S, 'duplicate parameters: invalid_request', async () => {
  const h = { headers: { authorization: basicAuth('proto', C.client_secret) } };
  for (const body of ['grant_type=client_credentials&grant_type=client_credentials', 'grant_type=client_credentials&scope=read&scope=trade',
    'grant_type=client_credentials&scope=read&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example',
    'grant_type=client_credentials&grant_type=refresh_token']) {
    assertOAuthError(await srv.post('/token', body, h), 400, 'invalid_request');
  }
  // duplicate client_id in client_secret_post
  const res = await srv.post('/token', `grant_type=client_credentials&client_id=proto&client_id=proto&client_secret=${encodeURIComponent(C.client_secret)}`);
  assert.ok(res.status === 400 || res.status === 401, describeRes(res));
  assert.equal(res.json?.access_token, undefined);
});

serverTest(S, 'malformed form bodies: invalid_request', async () => {
  const h = { headers: { authorization: basicAuth('proto', C.client_secret) } };
  for (const body of ['grant_type=client_credentials&scope=%zz', 'grant_type=client_credentials&scope=%', 'grant_type=client_credentials&=x',
    'grant_type=client%00_credentials', 'grant_type=client_credentials&scope=%C0%AF', 'grant_type=client_credentials&' + 'a=1&'.repeat(200)]) {
    const res = await srv.post('/token', body, h);
    assert.ok(res.status === 400, `${body.slice(0, 60)}: ${describeRes(res)}`);
    assert.ok(['invalid_request', 'unsupported_grant_type', 'invalid_scope'].includes(res.json?.error), `${body.slice(0, 60)}: ${describeRes(res)}`);
    assertNoStore(res);
  }
});

serverTest(S, 'oversized body: 413', async () => {
  const body = `grant_type=client_credentials&scope=${'r'.repeat(70 * 1024)}`;
  const r = await srv.raw(rawPost(body));
  assert.equal(r.status, 413, `got: ${r.text.slice(0, 200)} (${r.why})`);
  // announced but not sent: the Content-Length alone is enough
  const r2 = await srv.raw(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n`);
  assert.equal(r2.status, 413, `got: ${r2.text.slice(0, 200)} (${r2.why})`);
  // chunked, growing past the limit
  const chunk = 'a'.repeat(16 * 1024);
  const chunked = `POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${(chunk.length).toString(16)}\r\n${chunk}\r\n`.repeat(6) + '0\r\n\r\n';
  const r3 = await srv.raw(chunked);
  assert.equal(r3.status, 413, `chunked: ${r3.text.slice(0, 200)} (${r3.why})`);
});

serverTest(S, 'oversized header: 431', async () => {
  const r = await srv.raw(rawPost(formBody(cc), `X-Pad: ${'p'.repeat(9 * 1024)}\r\n`));
  assert.equal(r.status, 431, `got: ${r.text.slice(0, 200)} (${r.why})`);
  const many = Array.from({ length: 1000 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const r2 = await srv.raw(rawPost(formBody(cc), many));
  assert.equal(r2.status, 431, `1000 headers: ${r2.text.slice(0, 200)} (${r2.why})`);
  const r3 = await srv.raw(`GET /${'a'.repeat(9 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.ok(r3.status === 431 || r3.status === 414, `long request target: ${r3.text.slice(0, 200)} (${r3.why})`);
});

serverTest(S, 'malformed HTTP on a raw socket: 400, server unharmed', async () => {
  const cases = [
    'GARBAGE\r\n\r\n',
    'GET\r\n\r\n',
    'GET / HTTP/1.1\r\nHost x\r\n\r\n',
    'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
    'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello',
    'POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    'POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n',
    'GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n',
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + '\xaa'.repeat(40) + '\r\n\r\n', // a TLS ClientHello
    'POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n', // chunk size overflow
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', // NUL in a header value
  ];
  for (const c of cases) {
    const r = await srv.raw(Buffer.from(c, 'latin1'));
    assert.equal(r.status, 400, `${JSON.stringify(c.slice(0, 60))}: ${JSON.stringify(r.text.slice(0, 120))} (${r.why})`);
  }
  const v = await srv.raw('GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n');
  assert.ok(v.status === 400 || v.status === 505, `HTTP/9.9: ${JSON.stringify(v.text.slice(0, 120))}`);
  // Content-Length with Transfer-Encoding (request smuggling): refused, or answered and the
  // connection closed (RFC 9112 §6.3) so that nothing after it is read as a second request.
  const smuggle = 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
  const s = await srv.raw(smuggle, { idleMs: 800 });
  const responses = s.text.match(/HTTP\/1\.[01] \d{3}/g) ?? [];
  assert.ok(responses.length === 1, `smuggling: ${responses.length} responses: ${JSON.stringify(s.text.slice(0, 300))}`);
  assert.ok(s.status === 400 || s.why === 'closed', `smuggling: ${s.status}, connection ${s.why}`);
  assert.equal((await srv.request('GET', '/healthz')).status, 200);
});

serverTest(S, 'malformed authorization_details: invalid_authorization_details', async () => {
  const bad = ['not json', '{"type":"trading"}', '[{"type":"trading"', '[{"type":"no_such_type","actions":["trade"]}]',
    '[{"actions":["trade"]}]', '[{"type":"trading","actions":"trade"}]', '[{"type":"trading","actions":["fly"]}]',
    '[{"type":"trading","actions":["trade"],"product_classes":["moon"]}]', '[1]', '[null]', '[]',
    '[{"type":"trading","type":"withdrawal","actions":["trade"]}]', '[{"type":"trading","actions":["trade"]}] trailing',
    '"\\ud800"', '[{"type":"trading","actions":["trade"],"limits":{"max_leverage":1e999}}]'];
  for (const d of bad) {
    const res = await srv.token({ grant_type: 'client_credentials', authorization_details: d }, auth());
    assertOAuthError(res, 400, 'invalid_authorization_details');
  }
});

serverTest(S, 'deeply nested authorization_details JSON: refused without a crash', async () => {
  // 20000 levels, encoded, under the 64 KiB body limit: a recursive parser would overflow its stack
  const body = `grant_type=client_credentials&authorization_details=${'%5B'.repeat(20000)}`;
  const res = await srv.post('/token', body, { headers: { authorization: basicAuth('proto', C.client_secret) } });
  assertOAuthError(res, 400, 'invalid_authorization_details');
  const objs = `grant_type=client_credentials&authorization_details=${encodeURIComponent('[' + '{"a":'.repeat(8000))}`;
  const res2 = await srv.post('/token', objs, { headers: { authorization: basicAuth('proto', C.client_secret) } });
  assert.ok(res2.status === 400 || res2.status === 413, describeRes(res2));
  assert.ok(srv.alive(), 'server died on deep JSON');
});

serverTest(S, 'a slowloris does not block other clients', async () => {
  const slow = [];
  for (let i = 0; i < 60; i++) {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});
    s.write('POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    slow.push(s);
  }
  const drip = setInterval(() => { for (const s of slow) if (!s.destroyed) s.write('X-a: b\r\n'); }, 300);
  try {
    await sleep(300);
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      assertOk(await srv.token(cc, auth()));
      assert.ok(Date.now() - t0 < 2000, `token took ${Date.now() - t0} ms during the slowloris`);
    }
  } finally {
    clearInterval(drip);
    for (const s of slow) s.destroy();
  }
});

serverTest(S, '200 concurrent garbage requests, then a valid request still works', async () => {
  const garbage = [];
  for (let i = 0; i < 200; i++) {
    switch (i % 5) {
      case 0: garbage.push(srv.raw(Buffer.from(Array.from({ length: 300 }, (_, j) => (i * 31 + j * 7) & 255)), { timeout: 5000 })); break;
      case 1: garbage.push(srv.post('/token', `grant_type=client_credentials&client_assertion=${'x.'.repeat(i)}`).catch((e) => e)); break;
      case 2: garbage.push(srv.raw(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n`, { timeout: 3000 })); break;
      case 3: garbage.push(srv.token({ grant_type: 'client_credentials', authorization_details: '[{'.repeat(i) }, auth()).catch((e) => e)); break;
      default: garbage.push(srv.raw(`\r\n\r\n${'\0'.repeat(i)}`, { timeout: 3000 }));
    }
  }
  await Promise.all(garbage);
  assert.ok(srv.alive(), 'server died under garbage');
  assertOk(await srv.token(cc, auth()));
});

serverTest(S, 'pipelined keep-alive requests are answered in order', async () => {
  const one = rawPost(formBody(cc));
  const r = await srv.raw(one + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' + one, { idleMs: 800 });
  const statuses = (r.text.match(/HTTP\/1\.1 (\d{3})/g) ?? []).map((s) => Number(s.slice(-3)));
  assert.deepEqual(statuses, [200, 200, 200], r.text.slice(0, 300));
});

serverTest(S, 'unknown paths: 404 JSON, no reflection of the path', async () => {
  const res = await srv.request('GET', '/%3Cscript%3Ealert(1)%3C/script%3E');
  assert.equal(res.status, 404, describeRes(res));
  assert.ok(!res.text.includes('<script>'), 'path reflected unescaped');
});

serverTest(S, 'a request that never completes is cut off by the read timeout (slowloris defence)', async () => {
  const t0 = Date.now();
  const outcome = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let got = '';
    s.on('error', () => {});
    s.on('data', (c) => { got += c.toString('latin1'); });
    s.on('close', () => { clearInterval(drip); clearTimeout(give); resolve({ closed: true, got }); });
    s.write('POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => s.write('X-a: b\r\n'), 500);
    const give = setTimeout(() => { clearInterval(drip); s.destroy(); resolve({ closed: false, got }); }, 14000);
  });
  const ms = Date.now() - t0;
  assert.ok(outcome.closed, `a dripping request was still open after ${ms} ms`);
  assert.ok(ms >= 1000, `closed after ${ms} ms: too early to be the read timeout`);
  assert.ok(outcome.got === '' || /^HTTP\/1\.1 (408|400)/.test(outcome.got), `answer: ${JSON.stringify(outcome.got.slice(0, 120))}`);
}, { timeout: 20000 });

serverTest(S, 'a client id with CR/LF and JSON in it cannot forge log lines', async () => {
  const evil = 'x"}\n{"level":"error","msg":"forged","client_id":"admin';
  for (const auth of [{ basic: [evil, 'secret'] }, { post: [evil, 'secret'] }]) {
    const res = await srv.token(cc, auth);
    assert.ok(res.status === 400 || res.status === 401, describeRes(res));
  }
  // (the JSON-lines check of the final test reads the log)
});

serverTest(S, 'HTTP/1.1 without Host, or with two Host fields: 400 (RFC 9112 §3.2)', async () => {
  const none = await srv.raw('GET /healthz HTTP/1.1\r\n\r\n');
  const two = await srv.raw('GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n');
  assert.deepEqual({ noHost: none.status, twoHosts: two.status }, { noHost: 400, twoHosts: 400 });
});

serverTest(S, 'after a refused body the connection closes: a request pipelined behind it is not served', async () => {
  const big = 'a'.repeat(70 * 1024);
  const r = await srv.raw(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${big.length}\r\n\r\n${big}` +
    'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 800 });
  assert.equal(r.status, 413, r.text.slice(0, 120));
  const responses = r.text.match(/HTTP\/1\.[01] \d{3}/g) ?? [];
  assert.equal(responses.length, 1, `responses: ${responses.join(', ')}`);
  assert.ok(!r.text.includes('mandate_'), 'the pipelined /metrics request was served');
});

serverTest(S, '/metrics and /jwks carry no client secret or token', async () => {
  const m = await srv.metrics();
  const j = JSON.stringify(await srv.jwks());
  for (const secret of srv.secrets) {
    assert.ok(!m.includes(secret), '/metrics contains a secret or token');
    assert.ok(!j.includes(secret), '/jwks contains a secret or token');
  }
  assert.ok(srv.secrets.size > 0, 'nothing recorded to look for');
});

finalChecks(S);
