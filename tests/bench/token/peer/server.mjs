// node-oidc-provider configured like Mandate's benchmark case: client_credentials, a client
// authenticating with client_secret_basic, ES256-signed RFC 9068 JWT access tokens (the
// resourceIndicators feature with one resource server whose accessTokenFormat is 'jwt').
//
//   node server.mjs --port-file FILE --client-id ID --client-secret S [--port N] [--workers N]
//                   [--resource URL]
//
// Listens on 127.0.0.1. --workers 1 (default) is one process: Node.js runs JavaScript on one
// thread, so that is one core. --workers N forks N processes sharing the listening socket
// (node:cluster) with the same signing key, so every worker's tokens verify against /jwks.
// The bound port is written to --port-file (decimal and a newline) once every worker listens.
import cluster from 'node:cluster';
import { writeFileSync, renameSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'port-file': { type: 'string' },
    'client-id': { type: 'string', default: 'bench' },
    'client-secret': { type: 'string' },
    resource: { type: 'string', default: 'https://api.bench.example' },
    workers: { type: 'string', default: '1' },
  },
});
if (!opt['port-file'] || !opt['client-secret']) {
  console.error('usage: node server.mjs --port-file FILE --client-secret S [--client-id ID] [--port N] [--workers N]');
  process.exit(2);
}
const workers = Number.parseInt(opt.workers, 10);

function writePortFile(port) {
  const tmp = `${opt['port-file']}.tmp`;
  writeFileSync(tmp, `${port}\n`);
  renameSync(tmp, opt['port-file']);
}

async function signingJwk() {
  if (process.env.PEER_SIGNING_JWK) return JSON.parse(process.env.PEER_SIGNING_JWK);
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: await jose.calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
}

async function serve(port, jwk) {
  // The issuer must be known before the port is; with --port 0 in one process the issuer
  // carries the placeholder port and is fixed below once the socket is bound.
  const provider = (issuer) => new Provider(issuer, {
    clients: [{
      client_id: opt['client-id'],
      client_secret: opt['client-secret'],
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read trade',
    }],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    ttl: { ClientCredentials: 600 },
    scopes: ['read', 'trade'],
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => opt.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== opt.resource) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'read trade',
            audience: opt.resource,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  });

  const http = await import('node:http');
  const server = http.createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = server.address().port;
  const app = provider(`http://127.0.0.1:${bound}`);
  server.on('request', app.callback());
  return bound;
}

if (workers > 1 && cluster.isPrimary) {
  // Workers bind port 0 through the primary, which hands every one the same socket; the port
  // is known once the first reports.
  const jwk = await signingJwk();
  const port = Number.parseInt(opt.port, 10);
  if (port === 0) {
    // A shared port must be fixed up front so every worker's issuer agrees: bind it here first.
    const net = await import('node:net');
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    opt.port = String(probe.address().port);
    await new Promise((resolve) => probe.close(resolve));
  }
  let ready = 0;
  for (let i = 0; i < workers; i += 1) {
    const w = cluster.fork({ PEER_SIGNING_JWK: JSON.stringify(jwk), PEER_PORT: opt.port });
    w.on('message', (m) => {
      if (m?.listening && (ready += 1) === workers) writePortFile(m.listening);
    });
  }
  cluster.on('exit', (_w, code, signal) => {
    if (signal !== 'SIGTERM') console.error(`peer worker exited (${signal ?? code})`);
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const jwk = await signingJwk();
  const port = Number.parseInt(process.env.PEER_PORT ?? opt.port, 10);
  const bound = await serve(port, jwk);
  if (cluster.isWorker) process.send({ listening: bound });
  else writePortFile(bound);
  process.on('SIGTERM', () => process.exit(0));
}
