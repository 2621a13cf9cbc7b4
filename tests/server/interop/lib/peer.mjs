// node-oidc-provider (tests/bench/token/peer) as a stand-in target, to check the interop test
// itself against a certified implementation where the flows overlap: INTEROP_PEER=1 node --test.
// Not part of the CTest run. It runs in this process; clients are collected first, the provider
// is built by start() because its clients are static configuration.
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './mandate.mjs';

export const OPAQUE_RESOURCE = 'https://opaque.interop.example';
const peerModules = path.join(REPO_ROOT, 'tests/bench/token/peer/node_modules');

export class PeerTarget {
  name = 'oidc-provider';
  // client_credentials never yields a refresh token there; tokens carry no policy claim; its
  // RFC 8414 document is only served at the OIDC location; it refuses to introspect JWT access
  // tokens (the tests ask for an opaque one, for the resource OPAQUE_RESOURCE, there).
  features = { policyClaim: false, authorizationDetails: true, refreshToken: false, oauth2Discovery: false,
    introspectsJwt: false };
  clients = [];

  async setSubject() {}

  async createClient(spec) {
    const client = {
      client_id: spec.id,
      grant_types: spec.grants ?? ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: spec.auth,
      scope: spec.scope ?? 'read trade',
      authorization_details_types: ['trading'],
    };
    if (spec.jwks) {
      client.jwks = spec.jwks;
      client.token_endpoint_auth_signing_alg = 'ES256';
    } else {
      client.client_secret = crypto.randomBytes(24).toString('base64url');
    }
    this.clients.push(client);
    return { client_id: client.client_id, client_secret: client.client_secret };
  }

  async start() {
    const { default: Provider, errors } = await import(pathToFileURL(path.join(peerModules, 'oidc-provider/lib/index.js')));
    const jose = await import(pathToFileURL(path.join(peerModules, 'jose/dist/webapi/index.js')));
    const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(privateKey)), alg: 'ES256', use: 'sig' };
    jwk.kid = await jose.calculateJwkThumbprint(jwk);

    this.server = http.createServer();
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${this.server.address().port}`;
    this.issuer = new URL(this.base);
    const issuer = this.base;
    const provider = new Provider(issuer, {
      clients: this.clients,
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      scopes: ['read', 'trade'],
      jwks: { keys: [jwk] },
      ttl: { ClientCredentials: 600 },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        richAuthorizationRequests: {
          enabled: true,
          types: { trading: { validate() {} } },
          // Grants what was asked: enough to carry authorization_details end to end.
          authorizationDetailsForAccessToken: (ctx) => JSON.parse(ctx.oidc.params.authorization_details),
          authorizationDetailsForIntrospection: (_ctx, token) => token.rar,
          authorizationDetailsForGrantSource: () => undefined,
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => issuer,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (!/^https?:\/\//.test(resource)) throw new errors.InvalidTarget();
            if (resource === OPAQUE_RESOURCE) return { scope: 'read trade', audience: resource, accessTokenFormat: 'opaque' };
            return { scope: 'read trade', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
          },
        },
      },
    });
    this.server.on('request', provider.callback());
  }

  async stop() {
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise((r) => this.server.close(r));
    }
  }
}
