// A real, independent OAuth 2.0 authorization server for jwtguard's
// interoperability tests: panva's oidc-provider (npm), configured for
// RFC 8707 resource indicators and RFC 9068 JWT access tokens.
//
//   node provider.mjs [--port N] [--short-ttl SECONDS]   (or PORT, SHORT_TTL)
//
// It listens on 127.0.0.1 (port 0: a free one) and prints one JSON line on
// stdout once listening: {"issuer":"http://127.0.0.1:PORT"}. Everything it
// issues goes through oidc-provider's own endpoints; the only additions are
// test-only and live outside them:
//
//   GET  /interaction/:uid  logs in "user-123" and grants what is asked, with
//                           no page, so the authorization code flow (and so
//                           refresh tokens) can be driven headlessly;
//   POST /__rotate          adds one new RS256, ES256 and EdDSA key each,
//                           first in the JWKS, so tokens from then on carry
//                           new kids; answers {"kids":{alg:kid}}. The
//                           provider reads its keys at construction, so a new
//                           Provider with old+new keys takes over the same
//                           listener (same port, no restart, no downtime);
//                           grants and tokens live in SharedAdapter, which
//                           all instances share.
//
// NOT for production: secrets are fixed, keys live in memory, and anyone who
// reaches the interaction route is "user-123".
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT || '0' },
    'short-ttl': { type: 'string', default: process.env.SHORT_TTL || '2' },
  },
});
const shortTTL = Number(args['short-ttl']);
if (!Number.isInteger(shortTTL) || shortTTL <= 0) {
  throw new Error(`--short-ttl must be a positive integer of seconds, got ${args['short-ttl']}`);
}

const API = 'https://api.example.com';
const ADMIN = 'https://api.example.com/admin';
const RESOURCE_SCOPES = { [API]: 'notes:read notes:write transfers:write', [ADMIN]: 'admin' };

// How each step-up client's user "logged in", as RFC 9068 §2.2.1 claims
// in its access tokens (acr, auth_time seconds ago): a recent multi-factor
// login, and an hour-old password one. extraTokenClaims adds them.
const LOGIN = {
  'svc-mfa': { acr: 'urn:example:acr:mfa', ago: 10 },
  'svc-pwd': { acr: 'urn:example:acr:pwd', ago: 3600 },
};
const ACCESS_TOKEN_TTL = 300;
const SECRET = 'interop-secret';

// The access-token signing algorithm of each client: every algorithm of
// the suite is used by some client.
const CLIENT_ALG = {
  'svc-rs256': 'RS256',
  'svc-es256': 'ES256',
  'svc-eddsa': 'EdDSA',
  'svc-short': 'ES256',
  app: 'EdDSA',
};

const service = (id) => ({
  client_id: id,
  client_secret: SECRET,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
});

const clients = [
  service('svc-rs256'),
  service('svc-es256'),
  service('svc-eddsa'),
  service('svc-short'), // its tokens live --short-ttl seconds
  service('svc-mfa'), // acr and auth_time of a recent MFA login (LOGIN)
  service('svc-pwd'), // ... of an hour-old password login
  {
    client_id: 'app',
    client_secret: SECRET,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  },
];

// Keys: one per algorithm at start, newest first after each rotation.
let generation = 0;
function newKeys() {
  generation += 1;
  const jwk = (keyPair, alg) => ({
    ...keyPair.privateKey.export({ format: 'jwk' }),
    kid: `${alg.toLowerCase()}-${generation}-${randomBytes(3).toString('hex')}`,
    alg,
    use: 'sig',
  });
  return [
    jwk(generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RS256'),
    jwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'ES256'),
    jwk(generateKeyPairSync('ed25519'), 'EdDSA'),
  ];
}
let keys = newKeys();

// SharedAdapter keeps the provider's state (grants, codes, refresh tokens,
// sessions, interactions) in one Map for the whole process, so that it
// survives a rotation's new Provider instance; oidc-provider's own
// in-memory adapter is per instance. Linear scans are fine for a test.
const store = new Map(); // "Model:id" -> { payload, expiresAt (ms) }
class SharedAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.payload;
  }

  async findBy(field, value) {
    for (const [key, entry] of store) {
      if (key.startsWith(`${this.model}:`) && entry.payload[field] === value && entry.expiresAt > Date.now()) {
        return entry.payload;
      }
    }
    return undefined;
  }

  findByUid(uid) {
    return this.findBy('uid', uid);
  }

  findByUserCode(userCode) {
    return this.findBy('userCode', userCode);
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (entry.payload.grantId === grantId) store.delete(key);
    }
  }
}

function configuration() {
  return {
    adapter: SharedAdapter,
    clients,
    jwks: { keys },
    // Fixed, so that interaction cookies signed by one instance are read
    // by the next after a rotation.
    cookies: { keys: ['interop-cookie-key'] },
    scopes: ['openid', 'offline_access'],
    extraTokenClaims(ctx, token) {
      const login = LOGIN[token.clientId];
      if (!login) return undefined;
      return { acr: login.acr, auth_time: Math.floor(Date.now() / 1000) - login.ago };
    },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator, client) {
          // examples/mcp's endpoint, on whatever loopback port the test
          // picked: the MCP resource indicator is the endpoint's URL.
          const scope = RESOURCE_SCOPES[resourceIndicator]
            ?? (/^http:\/\/127\.0\.0\.1:\d+\/mcp$/.test(resourceIndicator) ? 'notes:read notes:write' : undefined);
          if (!scope) {
            throw new errors.InvalidTarget();
          }
          return {
            scope,
            audience: resourceIndicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: client.clientId === 'svc-short' ? shortTTL : ACCESS_TOKEN_TTL,
            jwt: { sign: { alg: CLIENT_ALG[client.clientId] || 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 300,
      Interaction: 300,
      RefreshToken: 3600,
      Session: 3600,
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError(ctx, out) {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  };
}

function newProvider(issuer) {
  const p = new Provider(issuer, configuration());
  p.on('server_error', (ctx, err) => console.error('server_error', err));
  return p;
}

// interaction logs in user-123 and grants every scope the prompt misses:
// the usual consent page, answered "yes" without a page.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: 'user-123' } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    throw new Error(`unexpected prompt ${prompt.name}`);
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;
let provider = newProvider(issuer);
let callback = provider.callback();

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

server.on('request', async (req, res) => {
  const current = provider;
  try {
    const { pathname } = new URL(req.url, issuer);
    if (req.method === 'GET' && pathname.startsWith('/interaction/')) {
      await interaction(current, req, res);
    } else if (req.method === 'POST' && pathname === '/__rotate') {
      keys = [...newKeys(), ...keys];
      provider = newProvider(issuer);
      callback = provider.callback();
      json(res, 200, { kids: Object.fromEntries(keys.slice(0, 3).map((k) => [k.alg, k.kid])) });
    } else {
      callback(req, res);
    }
  } catch (err) {
    console.error(err);
    if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(err.message) });
  }
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
