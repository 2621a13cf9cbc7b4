// The audit trail survives SIGKILL under load (issue 5's crash test), five times on one data
// directory: 24 keep-alive clients ask for tokens back to back, the server is killed at a random
// moment with requests in flight, restarted, and then the log must verify (alone and against
// every checkpoint file saved so far), hold exactly one token.issued record for every token a
// client received, and hold nothing half-written (sequence 1..N, every data a JSON object).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, after } from 'node:test';

import { Server, serverTest, finalChecks, sleep, eventually } from './lib/server.mjs';
import { tokenLoad, verify, assertVerifies, assertWholeLog, exportEach, checkpointFile } from './lib/audit.mjs';

const ROUNDS = 5;
const WORKERS = 24;
const MIN_TOKENS = 50;

let srv;
const S = () => srv;
const clients = [];

after(async () => { await srv?.cleanup(); });

before(async () => {
  srv = await Server.prepare('audit-crash');
  for (let i = 0; i < 4; i++) {
    await srv.setSubject(`acct-crash-${i}`);
    const c = await srv.createClient({ id: `crash-${i}`, subject: `acct-crash-${i}`, ttl: 600 });
    clients.push({ id: c.client_id, secret: c.client_secret });
  }
  await srv.start();
});

serverTest(S, `${ROUNDS} rounds of SIGKILL under token load: the log verifies, every received token has exactly one record, nothing half-written`, async (t) => {
  const received = new Set(); // every jti a client got with 200, over all rounds
  const anchors = [];         // checkpoint files copied away after each round
  let lastCount = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const load = tokenLoad(srv.port, clients, { workers: WORKERS });
    // the random delay counts from the first token, so a slow start (ASan, a busy machine)
    // cannot make a round vacuous
    const started = await eventually(() => load.jtis.length > 0, 10000, 10);
    assert.ok(started, `round ${round}: no token in 10 s (statuses ${JSON.stringify(load.statuses)})`);
    const delay = 300 + Math.floor(Math.random() * 1200);
    await sleep(delay);
    srv.child.kill('SIGKILL');
    const gone = await srv.exit;
    assert.equal(gone.signal, 'SIGKILL', `round ${round}: the server was not killed by SIGKILL (${JSON.stringify(gone)})`);
    await load.done; // every worker ends on its connection's failure
    const got = load.jtis;
    assert.equal(load.broken, 0, `round ${round}: ${load.broken} responses with status 200 but no readable token`);
    assert.ok(load.errors > 0, `round ${round}: no request was in flight at the kill`);
    assert.ok(got.length > MIN_TOKENS, `round ${round}: only ${got.length} tokens before the kill (${delay} ms)`);
    const other = Object.keys(load.statuses).filter((s) => s !== '200');
    assert.deepEqual(other, [], `round ${round}: statuses other than 200 under load: ${JSON.stringify(load.statuses)}`);
    for (const j of got) {
      assert.ok(!received.has(j), `round ${round}: jti ${j} received twice`);
      received.add(j);
    }

    // an auditor may look before anyone restarts the server: the crashed log (its WAL not yet
    // recovered by a writer) verifies read-only too
    const crashed = await verify(srv.dataDir);
    assert.equal(crashed.code, 0, `round ${round}: audit verify on the crashed data dir exited ${crashed.code}:\n${crashed.stdout}${crashed.stderr}`);

    await srv.start();

    // (a) the chain verifies, alone and against the checkpoints of this and earlier rounds
    const { checkpoints } = await assertVerifies(srv.dataDir, anchors);
    // (b) exactly one token.issued record per received token (records of answers lost in the
    // kill may exist; duplicates may not)
    const issued = new Map();
    const n = await exportEach(srv.dataDir, (r) => {
      assert.equal(r.type, 'token.issued');
      issued.set(r.jti, (issued.get(r.jti) ?? 0) + 1);
    }, { type: 'token.issued' });
    for (const [j, c] of issued) assert.equal(c, 1, `round ${round}: jti ${j} has ${c} token.issued records`);
    const missing = [...received].filter((j) => !issued.has(j));
    assert.deepEqual(missing.slice(0, 10), [], `round ${round}: ${missing.length} of ${received.size} received tokens have no token.issued record`);
    // (c) nothing half-written, read from the raw database
    const whole = await assertWholeLog(srv.dataDir);
    lastCount = whole.count;
    assert.equal(whole.types['token.issued'], n, 'sqlite3 and audit export count the same token.issued records');
    for (const j of received) assert.equal(whole.issued.get(j), 1, `round ${round}: raw rows: jti ${j}`);
    assert.ok((whole.types['policy.loaded'] ?? 0) >= round + 1, `round ${round}: policy.loaded records: ${whole.types['policy.loaded']}`);

    if (fs.existsSync(checkpointFile(srv.dataDir))) {
      const copy = path.join(srv.dir, `checkpoint-round-${round}.txt`);
      fs.copyFileSync(checkpointFile(srv.dataDir), copy);
      anchors.push(copy);
    }
    t.diagnostic(`round ${round}: killed after ${delay} ms, ${got.length} tokens received, ` +
      `${load.errors} requests cut, log ${whole.count} records (${n} token.issued), ${checkpoints} checkpoint file(s) verified`);
  }
  // checkpoints are signed every 1,000 records (docs/audit.md); a slower machine may not get there
  if (lastCount >= 1000) assert.ok(anchors.length > 0, `no audit-checkpoint.txt with ${lastCount} records in the log`);
}, { timeout: 120000 });

finalChecks(S);
