// `mandate audit replay`: the impact report of a policy change. Tokens are asked for by subjects a
// change affects and by subjects it does not; the server is stopped; one rule of a copy of the
// policies is changed (a ban widened to another residence, a leverage cap lowered, a ban lifted
// for one product class) and built; replay must name exactly the recorded decisions that rule
// changes, attributed to that rule alone, and an unchanged policy must change nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { before, after } from 'node:test';

import { Server, serverTest, assertOk, assertOAuthError, GOOD_SUBJECT, POLICIES } from './lib/server.mjs';
import { decode } from './lib/tokens.mjs';
import { exportAll } from './lib/audit.mjs';

const BAN = 'fca_crypto_derivatives.retail_crypto_derivatives';
const CAP = 'fca_cfd_leverage.retail_cfd_leverage';
const RETAIL = { ...GOOD_SUBJECT, kyc_tier: 2, category: 'retail', ecp: false, net_worth_usd: '20000' };
// Who is asked for what. gb: hit by the FCA ban and cap already; je: outside the FCA's rules
// (until the ban is widened to Jersey); je-pro and sg: professionals no change here touches.
const SUBJECTS = {
  gb: { ...RETAIL, residence: 'GB' },
  je: { ...RETAIL, residence: 'JE' },
  'je-pro': { ...RETAIL, residence: 'JE', category: 'professional' },
  sg: GOOD_SUBJECT,
};
const details = (classes) => JSON.stringify([{ type: 'trading', actions: ['trade'], product_classes: classes }]);
const ASKS = {
  all: { scope: 'read trade' },
  derivatives: { authorization_details: details(['future', 'perpetual']) },
  spot: { authorization_details: details(['spot']) },
  fx: { authorization_details: details(['cfd_fx_major']) },
};

let srv, original;
const clients = {};
const seqOf = {}; // `${subject}/${ask}` -> audit seq of that decision
const outcome = {}; // `${subject}/${ask}` -> 'issued' | 'denied'
const bundles = {};

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('audit-replay');
  original = path.join(srv.dir, 'policies');
  fs.cpSync(POLICIES, original, { recursive: true });
  srv.policies = original;
  for (const [name, attrs] of Object.entries(SUBJECTS)) {
    await srv.setSubject(`acct-${name}`, attrs);
    clients[name] = await srv.createClient({ id: `cl-${name}`, subject: `acct-${name}` });
  }
  await srv.start();
  const jtis = {}, denied = [];
  for (const name of Object.keys(SUBJECTS)) {
    const c = clients[name];
    for (const [ask, params] of Object.entries(ASKS)) {
      const res = await srv.token({ grant_type: 'client_credentials', ...params }, { basic: [c.client_id, c.client_secret] });
      const key = `${name}/${ask}`;
      if (res.status === 200) {
        outcome[key] = 'issued';
        jtis[decode(res.json.access_token).payload.jti] = key;
      } else {
        assertOAuthError(res, 400, params.scope ? 'invalid_scope' : 'invalid_authorization_details');
        outcome[key] = 'denied';
        denied.push(key);
      }
    }
  }
  await srv.stop();
  // The records: issued ones by jti, denied ones by client and what was asked (one each).
  for (const r of await exportAll(srv.dataDir)) {
    if (r.type === 'token.issued') seqOf[jtis[r.jti]] = r.seq;
    if (r.type === 'token.denied') {
      const key = denied.find((k) => `cl-${k.split('/')[0]}` === r.actor.client &&
        isDeepStrictEqual(r.data.request, requestAsRecorded(ASKS[k.split('/')[1]])));
      assert.ok(key, `an unexpected token.denied record: ${JSON.stringify(r).slice(0, 400)}`);
      seqOf[key] = r.seq;
    }
  }
  assert.equal(Object.keys(seqOf).length, Object.keys(SUBJECTS).length * Object.keys(ASKS).length,
    `one audit record per token request: ${JSON.stringify(seqOf)}`);
  // The starting point the expectations below rest on (the reference policies as they are).
  assert.equal(outcome['gb/derivatives'], 'denied', 'the FCA ban refuses crypto futures to UK retail');
  for (const k of ['gb/all', 'gb/spot', 'gb/fx', 'je/all', 'je/derivatives', 'je-pro/derivatives', 'sg/derivatives'])
    assert.equal(outcome[k], 'issued', k);

  // One change per copy, each built into a bundle.
  // (Built from the directory the server ran: the bundle hash covers the source paths too.)
  const variant = async (name, file, from, to) => {
    const dir = file ? path.join(srv.dir, `policies-${name}`) : original;
    if (file) {
      fs.cpSync(original, dir, { recursive: true });
      const f = path.join(dir, file);
      const text = fs.readFileSync(f, 'utf8');
      assert.ok(text.includes(from), `${file} no longer contains ${from}`);
      fs.writeFileSync(f, text.replace(from, to));
    }
    bundles[name] = path.join(srv.dir, `${name}.bundle`);
    await srv.cli(['build', dir, '-o', bundles[name]]);
  };
  const fca = path.join('uk', 'fca.policy');
  const banWhen = 'subject.category == retail and subject.residence == GB and product in CRYPTO_DERIVATIVES';
  await variant('same', null);
  await variant('ban-jersey', fca, banWhen,
    'subject.category == retail and (subject.residence == GB or subject.residence == JE) and product in CRYPTO_DERIVATIVES');
  await variant('cap-25', fca, 'cfd_fx_major => 30,', 'cfd_fx_major => 25,');
  await variant('lift-perpetual', fca, banWhen,
    'subject.category == retail and subject.residence == GB and product in CRYPTO_DERIVATIVES and product != perpetual');
}, { timeout: 120000 });

// data.request as the server records it: scope as sent, authorization_details parsed.
function requestAsRecorded(params) {
  const out = {};
  if (params.scope) out.scope = params.scope;
  if (params.authorization_details) out.authorization_details = JSON.parse(params.authorization_details);
  return out;
}

async function replay(args, { allowFail = false } = {}) {
  const r = await srv.cli(['audit', 'replay', '--data-dir', srv.dataDir, ...args], { allowFail });
  assert.doesNotMatch(r.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, r.stderr);
  return r;
}
async function replayJson(bundleName, extra = []) {
  const r = await replay(['--bundle', bundles[bundleName], '--json', ...extra]);
  return JSON.parse(r.stdout);
}
const seqs = (...keys) => keys.map((k) => seqOf[k]).sort((a, b) => a - b);
const total = () => Object.keys(seqOf).length;

serverTest(() => srv, 'the unchanged policies change nothing: every decision replays to itself', async () => {
  const r = await replayJson('same');
  assert.equal(r.replayed, total(), JSON.stringify(r).slice(0, 600));
  assert.equal(r.unchanged, total());
  assert.equal(r.changed, 0, JSON.stringify(r.by_rule).slice(0, 1000));
  assert.equal(r.skipped, 0, JSON.stringify(r.skipped_reasons));
  assert.deepEqual(r.by_rule, []);
  assert.deepEqual(r.changed_seqs, []);
  assert.match(r.bundle, /^sha256:[0-9a-f]{64}$/);
  assert.equal(r.old_bundles.length, 1);
  assert.equal(r.old_bundles[0], r.bundle, 'the same policy text builds the same bundle the server ran');
});

serverTest(() => srv, 'the ban widened to Jersey: exactly the Jersey retail decisions that asked for crypto derivatives', async () => {
  const r = await replayJson('ban-jersey');
  assert.deepEqual(r.changed_seqs, seqs('je/all', 'je/derivatives'), JSON.stringify(r.by_rule).slice(0, 2000));
  assert.equal(r.changed, 2);
  assert.equal(r.unchanged, total() - 2);
  assert.notEqual(r.bundle, r.old_bundles[0], 'a changed policy is another bundle');
  assert.deepEqual(r.by_rule.map((x) => [x.rule, x.decisions]), [[BAN, 2]]);
  assert.deepEqual(r.changes, { denied_entirely: 1, narrowed: 1, widened: 0, mixed: 0, limits_changed: 0 });
  const ex = Object.fromEntries(r.by_rule[0].examples.map((e) => [e.seq, e]));
  const all = ex[seqOf['je/all']], der = ex[seqOf['je/derivatives']];
  assert.ok(all && der, `examples of both: ${JSON.stringify(r.by_rule[0].examples).slice(0, 800)}`);
  assert.equal(der.change, 'denied_entirely');
  assert.equal(der.client, 'cl-je');
  assert.equal(der.subject, 'acct-je');
  assert.deepEqual(der.after.authorization_details, []);
  assert.deepEqual(der.rules.map((x) => [x.rule, x.effect]), [[BAN, 'denied']]);
  assert.deepEqual([...der.rules[0].cells.trade].sort(), ['future', 'perpetual']);
  assert.match(der.rules[0].reason, /PS20\/10/);
  assert.equal(all.change, 'narrowed');
  assert.deepEqual([...all.rules[0].cells.trade].sort(), ['binary_option', 'cfd', 'future', 'option', 'perpetual', 'swap']);
  // What was recorded stands as "before": the token's authorization_details.
  const rec = (await exportAll(srv.dataDir)).find((x) => x.seq === seqOf['je/all']);
  assert.deepEqual(all.before.authorization_details, rec.data.decision.authorization_details);
  assert.ok(!all.after.authorization_details.some((e) => (e.product_classes ?? []).includes('future')));
});

serverTest(() => srv, 'a lower leverage cap: exactly the UK retail decisions granting FX CFDs, as limit changes', async () => {
  const r = await replayJson('cap-25');
  assert.deepEqual(r.changed_seqs, seqs('gb/all', 'gb/fx'), JSON.stringify(r.by_rule).slice(0, 2000));
  assert.deepEqual(r.by_rule.map((x) => [x.rule, x.decisions]), [[CAP, 2]]);
  assert.deepEqual(r.changes, { denied_entirely: 0, narrowed: 0, widened: 0, mixed: 0, limits_changed: 2 });
  const fx = r.by_rule[0].examples.find((e) => e.seq === seqOf['gb/fx']);
  assert.deepEqual(fx.rules.map((x) => [x.rule, x.effect, x.limits]), [[CAP, 'limit', ['max_leverage']]]);
  assert.deepEqual(fx.rules[0].cells, { trade: ['cfd_fx_major'] });
  assert.equal(fx.before.authorization_details[0].limits.max_leverage, 30);
  assert.equal(fx.after.authorization_details[0].limits.max_leverage, 25);
});

serverTest(() => srv, 'a ban lifted for perpetuals: the widened decisions, attributed to the rule that denied them', async () => {
  const r = await replayJson('lift-perpetual');
  assert.deepEqual(r.changed_seqs, seqs('gb/all', 'gb/derivatives'), JSON.stringify(r.by_rule).slice(0, 2000));
  assert.deepEqual(r.by_rule.map((x) => [x.rule, x.decisions]), [[BAN, 2]]);
  assert.deepEqual(r.changes, { denied_entirely: 0, narrowed: 0, widened: 2, mixed: 0, limits_changed: 0 });
  const der = r.by_rule[0].examples.find((e) => e.seq === seqOf['gb/derivatives']);
  assert.equal(der.type, 'token.denied');
  assert.deepEqual(der.before.authorization_details, []);
  assert.deepEqual(der.rules.map((x) => [x.rule, x.effect, x.cells]), [[BAN, 'granted', { trade: ['perpetual'] }]]);
  assert.deepEqual(der.after.authorization_details.flatMap((e) => e.product_classes ?? []), ['perpetual']);
});

serverTest(() => srv, 'filters and output: --subject, --since, --examples, the text report', async () => {
  const je = await replayJson('ban-jersey', ['--subject', 'acct-je-pro']);
  assert.equal(je.replayed, Object.keys(ASKS).length);
  assert.equal(je.changed, 0);
  const later = await replayJson('ban-jersey', ['--since', '2999-01-01']);
  assert.equal(later.replayed, 0);
  const none = await replayJson('ban-jersey', ['--examples', '1']);
  assert.equal(none.by_rule[0].examples.length, 1);
  assert.equal(none.by_rule[0].decisions, 2);
  const text = (await replay(['--bundle', bundles['ban-jersey']])).stdout;
  assert.match(text, new RegExp(`${BAN.replace('.', '\\.')}\\s+2\\n`), text);
  assert.match(text, /unchanged \d+, changed 2 /, text);
  assert.match(text, /seq \d+ .* client cl-je +subject acct-je /, text);
});

serverTest(() => srv, 'errors: no bundle is a usage error (2); a missing log or a bad bundle is an error (1)', async () => {
  assert.equal((await replay([], { allowFail: true })).code, 2);
  assert.equal((await replay(['--bundle', bundles.same, '--policies', original], { allowFail: true })).code, 2);
  assert.equal((await replay(['--bundle', bundles.same, '--since', 'yesterday'], { allowFail: true })).code, 2);
  const missing = await srv.cli(['audit', 'replay', '--data-dir', path.join(srv.dir, 'nowhere'), '--bundle', bundles.same], { allowFail: true });
  assert.equal(missing.code, 1, missing.stderr);
  const bad = path.join(srv.dir, 'bad.bundle');
  fs.writeFileSync(bad, 'not a bundle');
  const r = await replay(['--bundle', bad], { allowFail: true });
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error:/);
});
