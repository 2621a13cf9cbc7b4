// Opens N keep-alive connections to HOST:PORT, sends one `GET PATH` (default /healthz) on each, reads the
// response and keeps the connection open and idle. Prints `idle: ready open=N ok=N` once every
// connection has its answer, then waits until stdin closes or SIGTERM.
//
//   node idle.mjs HOST PORT [N [PATH]]
import net from 'node:net';

const [host, portText, countText = '1000', path = '/healthz'] = process.argv.slice(2);
const port = Number.parseInt(portText, 10);
const count = Number.parseInt(countText, 10);
const sockets = [];
let answered = 0;
let failed = 0;

function settle() {
  if (answered + failed !== count) return;
  const open = sockets.filter((s) => !s.destroyed).length;
  console.log(`idle: ready open=${open} ok=${answered} failed=${failed}`);
}

for (let i = 0; i < count; i += 1) {
  const s = net.connect({ host, port });
  let got = '';
  let done = false;
  s.setNoDelay(true);
  s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`));
  s.on('data', (chunk) => {
    if (done) return;
    got += chunk.toString('latin1');
    if (got.includes('\r\n\r\n')) {
      done = true;
      if (got.startsWith('HTTP/1.1 200')) answered += 1; else failed += 1;
      settle();
    }
  });
  const lost = () => {
    if (!done) {
      done = true;
      failed += 1;
      settle();
    }
  };
  s.on('error', lost);
  s.on('close', lost);
  sockets.push(s);
}

const stop = () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
