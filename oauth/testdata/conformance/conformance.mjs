// An OAuth 2.0 / OpenID Connect conformance run against a live glasshouse
// server, with a client library nobody here wrote: Node's openid-client
// (v6, on oauth4webapi). cmd/glasshouse's TestOpenIDClientConformance
// starts the server, registers a partner and a member, and runs this script
// with:
//
//   GLASSHOUSE_ISSUER         the server's issuer URL (http on loopback)
//   GLASSHOUSE_CLIENT_ID      the partner's client id
//   GLASSHOUSE_CLIENT_SECRET  its secret (client_secret_basic)
//   GLASSHOUSE_REDIRECT_URI   its registered redirect URI (http loopback;
//                             nothing needs to listen there: the member's
//                             "browser" stops at the redirect)
//   GLASSHOUSE_HANDLE, GLASSHOUSE_PASSWORD  the member who signs in
//   GLASSHOUSE_SCOPES         the data scopes to ask for and tick
//
// The member's side (login and consent pages: plain HTML forms with a CSRF
// token) is driven with fetch and a cookie jar. Every step is named; a step
// that throws (any error openid-client raises: a spec violation such as a
// missing WWW-Authenticate, a wrong content type, bad ID token claims) or
// whose checks fail is reported as FAIL with the error's name, code and
// cause, and the script exits 1. Steps that need an earlier step's result
// are skipped, naming it, when that step failed.
import { createHash } from 'node:crypto';
import * as client from 'openid-client';

const TIMEOUT_MS = 30_000; // one HTTP request
const WATCHDOG_MS = 150_000; // the whole run

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`conformance: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const issuer = new URL(env('GLASSHOUSE_ISSUER'));
const clientId = env('GLASSHOUSE_CLIENT_ID');
const clientSecret = env('GLASSHOUSE_CLIENT_SECRET');
const redirectUri = env('GLASSHOUSE_REDIRECT_URI');
const handle = env('GLASSHOUSE_HANDLE');
const password = env('GLASSHOUSE_PASSWORD');
const dataScopes = env('GLASSHOUSE_SCOPES').split(/[ ,]+/).filter(Boolean);
const scope = ['openid', 'offline_access', ...dataScopes].join(' ');

setTimeout(() => {
  console.error(`FAIL watchdog: the run took longer than ${WATCHDOG_MS / 1000} s`);
  process.exit(3);
}, WATCHDOG_MS).unref();

// ---- reporting ---------------------------------------------------------

class CheckError extends Error {
  name = 'CheckError';
}
const check = (ok, msg) => {
  if (!ok) throw new CheckError(msg);
};

// describe renders an error with everything openid-client attaches to it:
// its class, code, OAuth error fields, HTTP status and cause.
async function describe(err) {
  if (!(err instanceof Error)) return String(err);
  const parts = [`${err.name}: ${err.message}`];
  if (err.code) parts.push(`code=${err.code}`);
  if (err.error) parts.push(`error=${err.error}`);
  if (err.error_description) parts.push(`error_description=${JSON.stringify(err.error_description)}`);
  if (err.status) parts.push(`status=${err.status}`);
  const res = err.response ?? (err.cause instanceof Response ? err.cause : undefined);
  if (res instanceof Response) parts.push(await describeResponse(res));
  if (err.cause !== undefined && !(err.cause instanceof Response)) {
    parts.push(`cause=${err.cause instanceof Error ? await describe(err.cause) : safeJSON(err.cause)}`);
  }
  return parts.join('; ');
}

async function describeResponse(res) {
  const h = (n) => res.headers.get(n);
  let body;
  try {
    body = await res.clone().text();
  } catch {
    body = '(body already read)';
  }
  return `response: HTTP ${res.status}, Content-Type ${h('content-type') ?? '(none)'}, ` +
    `WWW-Authenticate ${h('www-authenticate') ?? '(none)'}, Cache-Control ${h('cache-control') ?? '(none)'}, ` +
    `body ${JSON.stringify(body.slice(0, 400))}`;
}

function safeJSON(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

const results = [];
const state = {}; // what steps produce for later steps

// step runs one named step. needs names the state keys it uses: when one
// is missing (its step failed), the step is skipped.
async function step(name, needs, fn) {
  const missing = needs.filter((k) => state[k] === undefined);
  if (missing.length) {
    results.push({ name, status: 'skip' });
    console.log(`SKIP ${name}: needs ${missing.join(', ')} from a failed step`);
    return;
  }
  try {
    const note = await fn();
    results.push({ name, status: 'ok' });
    console.log(`ok   ${name}${note ? `: ${note}` : ''}`);
  } catch (err) {
    results.push({ name, status: 'fail' });
    console.log(`FAIL ${name}: ${await describe(err)}`);
  }
}

// expectThrow runs fn, which must throw; it returns the error.
async function expectThrow(what, fn) {
  let result;
  try {
    result = await fn();
  } catch (err) {
    return err;
  }
  throw new CheckError(`${what} succeeded (${safeJSON(result)?.slice(0, 200)}), want an error`);
}

async function expectOAuthError(what, err, code, status) {
  if (!(err instanceof client.ResponseBodyError) || err.error !== code || (status && err.status !== status)) {
    throw new CheckError(`${what}: want a ResponseBodyError with error=${code}${status ? ` and HTTP ${status}` : ''}, got ${await describe(err)}`);
  }
}

// ---- the partner's HTTP client: records every response -------------------

// recordingFetch is the fetch openid-client uses: it keeps the responses of
// the token endpoint so that their headers can be checked (RFC 6749 §5.1:
// a response with tokens carries Cache-Control: no-store).
const tokenResponses = [];
async function recordingFetch(url, options) {
  const res = await fetch(url, { ...options, signal: options?.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
  if (state.config && url === state.config.serverMetadata().token_endpoint) {
    tokenResponses.push(res);
  }
  return res;
}

function lastTokenResponseNoStore(what) {
  const res = tokenResponses.at(-1);
  check(res, `${what}: no token endpoint response recorded`);
  const cc = res.headers.get('cache-control') ?? '';
  check(/(^|[\s,])no-store($|[\s,])/i.test(cc),
    `${what}: the token response carries Cache-Control ${JSON.stringify(cc || '(none)')}; RFC 6749 §5.1 requires no-store on a response with tokens`);
}

// ---- the member's browser: cookies, redirects, forms ------------------------

class Browser {
  jar = new Map();

  async request(url, { method = 'GET', form } = {}) {
    const headers = { accept: 'text/html' };
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      body = form;
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a)) ||
        attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (gone || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }

  // go follows redirects on the server until a page (200) is shown, or a
  // redirect to the partner's redirect URI, which it does not follow.
  async go(url, init) {
    for (let hops = 0; hops < 10; hops++) {
      const res = await this.request(url, init);
      if (res.status >= 300 && res.status < 400) {
        const loc = new URL(res.headers.get('location'), url);
        if (loc.href.startsWith(redirectUri)) return { callback: loc };
        check(loc.origin === issuer.origin, `redirected off the server to ${loc.href}`);
        url = loc;
        init = undefined;
        continue;
      }
      const text = await res.text();
      check(res.status === 200, `${init?.method ?? 'GET'} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      return { at: new URL(url), page: text };
    }
    throw new CheckError(`more than 10 redirects from ${url}`);
  }

  // submit posts the page's form with its CSRF token and the given fields.
  async submit(at, page, fields) {
    const action = page.match(/<form method="post" action="([^"]*)"/);
    const csrf = page.match(/name="csrf" value="([^"]+)"/);
    check(action && csrf, `no form with a CSRF token at ${at}: ${page.slice(0, 300)}`);
    const form = new URLSearchParams(fields);
    form.set('csrf', unescapeHTML(csrf[1]));
    return this.go(new URL(unescapeHTML(action[1]), at), { method: 'POST', form });
  }

  // authorize opens an authorization URL as the member: signs in if asked,
  // ticks the given scopes on the consent page if shown, and returns the
  // URL the server sent the browser back to the partner with.
  async authorize(url, tick) {
    let r = await this.go(url);
    if (r.page?.includes('name="password"')) {
      r = await this.submit(r.at, r.page, [['handle', handle], ['password', password]]);
    }
    if (r.page) {
      const offered = [...r.page.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => unescapeHTML(m[1]));
      check(offered.length || r.page.includes('name="action" value="allow"'), `no consent form at ${r.at}: ${r.page.slice(0, 300)}`);
      check(!/name="scope" value="[^"]+" checked/.test(r.page), 'the consent page pre-ticks a scope');
      const fields = [['action', 'allow'], ['email', 'relay']];
      for (const s of offered) if (tick.includes(s)) fields.push(['scope', s]);
      r = await this.submit(r.at, r.page, fields);
    }
    check(r.callback, `the flow ended on a page at ${r.at} instead of the redirect URI: ${r.page?.slice(0, 300)}`);
    return r.callback;
  }
}

function unescapeHTML(s) {
  return s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'");
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// ---- the flow ----------------------------------------------------------------

const member = new Browser();

// authorization runs the code flow with PKCE S256, state and nonce, as the
// given browser, and exchanges the code; openid-client checks the state,
// the ID token (signature against the JWKS, iss, aud, exp, iat, nonce) and
// the token response. keep is given the tokens as soon as the exchange
// succeeds, so that later steps can go on when only a check here fails.
async function authorization(browser, extra = {}, keep = () => {}) {
  const config = state.config;
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const st = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: st,
    nonce,
    ...extra,
  });
  const callback = await browser.authorize(url, dataScopes);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: st,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  keep(tokens);
  lastTokenResponseNoStore('code exchange');
  const claims = tokens.claims();
  check(claims, 'no ID token claims');
  check(claims.nonce === nonce, `ID token nonce ${claims.nonce}, want ${nonce}`);
  check(tokens.token_type?.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`);
  check(typeof tokens.refresh_token === 'string' && tokens.refresh_token, 'no refresh token for offline_access');
  check(typeof tokens.expires_in === 'number' && tokens.expires_in > 0 && tokens.expires_in <= 15 * 60,
    `expires_in ${tokens.expires_in}, want at most 900 (docs/partners.md)`);
  const granted = (tokens.scope ?? '').split(' ');
  for (const s of ['openid', ...dataScopes]) check(granted.includes(s), `granted scope ${JSON.stringify(tokens.scope)} lacks ${s}`);
  check(claims.sub !== handle && claims.sub.length >= 16, `sub ${JSON.stringify(claims.sub)} does not look pairwise`);
  if (claims.at_hash !== undefined) {
    // OpenID Connect Core §3.1.3.8: the left half of SHA-256 of the access token.
    const digest = createHash('sha256').update(tokens.access_token).digest();
    const want = b64url(digest.subarray(0, 16));
    check(claims.at_hash === want, `ID token at_hash ${claims.at_hash}, want ${want}`);
  }
  return tokens;
}

async function graphMe(accessToken) {
  return client.fetchProtectedResource(state.config, accessToken, new URL('/graph/v1/me', issuer), 'GET');
}

// refusedBearer checks that a protected resource refuses a token as RFC
// 6750 §3 says: 401 with a Bearer challenge naming invalid_token.
// openid-client raises WWWAuthenticateChallengeError for any challenge.
async function refusedBearer(what, fn) {
  let res;
  try {
    res = await fn();
  } catch (err) {
    if (!(err instanceof client.WWWAuthenticateChallengeError)) throw err;
    check(err.status === 401, `${what}: HTTP ${err.status} with a challenge, want 401`);
    const bearer = err.cause.find((c) => c.scheme === 'bearer');
    check(bearer, `${what}: no Bearer challenge in ${safeJSON(err.cause)}`);
    check(bearer.parameters.error === 'invalid_token', `${what}: Bearer challenge ${safeJSON(bearer)}, want error="invalid_token"`);
    return;
  }
  const extra = res instanceof Response ? await describeResponse(res) : safeJSON(res);
  throw new CheckError(`${what}: not refused with a WWW-Authenticate challenge (RFC 6750 §3): ${extra}`);
}

// badClientSecret checks that an endpoint refuses a wrong client secret
// sent with HTTP Basic as RFC 6749 §5.2 says: 401, a WWW-Authenticate
// challenge for Basic, and a JSON body with error=invalid_client.
async function badClientSecret(what, fn) {
  const err = await expectThrow(`${what} with a wrong client secret`, fn);
  if (!(err instanceof client.WWWAuthenticateChallengeError)) {
    throw new CheckError(`${what}: want 401 with a WWW-Authenticate Basic challenge (RFC 6749 §5.2), got ${await describe(err)}`);
  }
  check(err.status === 401, `${what}: HTTP ${err.status}, want 401`);
  check(err.cause.some((c) => c.scheme === 'basic'), `${what}: challenge ${safeJSON(err.cause)}, want Basic`);
  const res = err.response;
  const ct = res.headers.get('content-type') ?? '';
  check(ct.split(';')[0].trim() === 'application/json', `${what}: error body Content-Type ${JSON.stringify(ct)}, want application/json`);
  const body = await res.json();
  check(body.error === 'invalid_client', `${what}: error body ${safeJSON(body)}, want error=invalid_client`);
}

const basic = client.ClientSecretBasic(clientSecret);
const discoveryOptions = {
  [client.customFetch]: recordingFetch,
  execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  timeout: TIMEOUT_MS / 1000,
};

await step('discovery (OpenID Connect Discovery 1.0)', [], async () => {
  const config = await client.discovery(issuer, clientId, { client_secret: clientSecret }, basic, discoveryOptions);
  const m = config.serverMetadata();
  check(m.issuer === issuer.href.replace(/\/$/, '') || m.issuer === issuer.href, `issuer ${m.issuer}`);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'revocation_endpoint', 'introspection_endpoint']) {
    check(typeof m[k] === 'string' && new URL(m[k]).origin === issuer.origin, `${k} ${m[k]}`);
  }
  check(m.response_types_supported?.includes('code'), `response_types_supported ${safeJSON(m.response_types_supported)}`);
  check(m.subject_types_supported?.includes('pairwise'), `subject_types_supported ${safeJSON(m.subject_types_supported)}`);
  check(m.id_token_signing_alg_values_supported?.includes('RS256'), `id_token_signing_alg_values_supported ${safeJSON(m.id_token_signing_alg_values_supported)}`);
  check(safeJSON(m.code_challenge_methods_supported) === '["S256"]', `code_challenge_methods_supported ${safeJSON(m.code_challenge_methods_supported)}, want exactly S256 (plain is refused)`);
  for (const g of ['authorization_code', 'refresh_token']) check(m.grant_types_supported?.includes(g), `grant_types_supported lacks ${g}`);
  for (const s of ['openid', 'offline_access', ...dataScopes]) check(m.scopes_supported?.includes(s), `scopes_supported lacks ${s}`);
  // The client authenticates with client_secret_basic everywhere (docs/partners.md):
  // each endpoint's advertised methods must include it (RFC 8414 §2: absent means client_secret_basic).
  for (const k of ['token_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported']) {
    check(m[k] === undefined || m[k].includes('client_secret_basic'), `${k} ${safeJSON(m[k])} lacks client_secret_basic`);
  }
  if (m.claims_supported !== undefined) check(m.claims_supported.includes('sub'), `claims_supported ${safeJSON(m.claims_supported)} lacks sub`);
  state.config = config;
  return `issuer ${m.issuer}`;
});

await step('discovery (RFC 8414 /.well-known/oauth-authorization-server)', ['config'], async () => {
  const config = await client.discovery(issuer, clientId, { client_secret: clientSecret }, basic, { ...discoveryOptions, algorithm: 'oauth2' });
  const m = config.serverMetadata(), o = state.config.serverMetadata();
  for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'revocation_endpoint', 'introspection_endpoint']) {
    check(m[k] === o[k], `${k} is ${m[k]} here but ${o[k]} in the OpenID configuration`);
  }
});

await step('authorization code + PKCE S256 (login, consent, token exchange, ID token validation)', ['config'], async () => {
  const t = await authorization(member, {}, (t) => {
    state.tokens = t;
    state.sub = t.claims().sub;
  });
  return `sub ${state.sub}, scope "${t.scope}", expires_in ${t.expires_in}`;
});

await step('userinfo', ['tokens'], async () => {
  const info = await client.fetchUserInfo(state.config, state.tokens.access_token, state.sub);
  return `sub ${info.sub}, claims ${Object.keys(info).join(',')}`;
});

await step('Graph API GET /graph/v1/me', ['tokens'], async () => {
  const res = await graphMe(state.tokens.access_token);
  const text = await res.text();
  check(res.status === 200, `HTTP ${res.status}: ${text.slice(0, 300)}`);
  check(res.headers.get('glasshouse-receipt'), 'no Glasshouse-Receipt header');
  const me = JSON.parse(text);
  check(me.id === state.sub, `/me id ${me.id}, want the ID token's sub ${state.sub}`);
  return `id ${me.id}, receipt ${res.headers.get('glasshouse-receipt').slice(0, 24)}…`;
});

await step('introspection of the access token (active)', ['tokens'], async () => {
  const r = await client.tokenIntrospection(state.config, state.tokens.access_token, { token_type_hint: 'access_token' });
  check(r.active === true, `active ${r.active}: ${safeJSON(r)}`);
  if (r.client_id !== undefined) check(r.client_id === clientId, `client_id ${r.client_id}`);
  if (r.sub !== undefined) check(r.sub === state.sub, `sub ${r.sub}, want the pairwise ${state.sub}`);
  if (r.scope !== undefined) for (const s of dataScopes) check(r.scope.split(' ').includes(s), `scope ${r.scope} lacks ${s}`);
  if (r.exp !== undefined) check(r.exp > Date.now() / 1000, `exp ${r.exp} is past`);
  return safeJSON(r);
});

await step('introspection of the refresh token (active)', ['tokens'], async () => {
  const r = await client.tokenIntrospection(state.config, state.tokens.refresh_token, { token_type_hint: 'refresh_token' });
  check(r.active === true, `active ${r.active}: ${safeJSON(r)}`);
  if (r.client_id !== undefined) check(r.client_id === clientId, `client_id ${r.client_id}`);
  if (r.sub !== undefined) check(r.sub === state.sub, `sub ${r.sub}, want the pairwise ${state.sub}`);
  return safeJSON(r);
});

await step('prompt=none with a signed-in member who consented (code without a page)', ['tokens'], async () => {
  const t = await authorization(member, { prompt: 'none' });
  check(t.claims().sub === state.sub, `sub ${t.claims().sub}, want ${state.sub}`);
});

await step('prompt=none without a session (login_required to the redirect URI)', ['config'], async () => {
  const st = client.randomState();
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(state.config, {
    redirect_uri: redirectUri, scope, state: st, nonce: client.randomNonce(), prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const r = await new Browser().go(url);
  check(r.callback, `prompt=none showed a page at ${r.at}: ${r.page?.slice(0, 200)}`);
  const err = await expectThrow('the code exchange after prompt=none without a session', () =>
    client.authorizationCodeGrant(state.config, r.callback, { pkceCodeVerifier: verifier, expectedState: st }));
  check(err instanceof client.AuthorizationResponseError && err.error === 'login_required',
    `want an AuthorizationResponseError with error=login_required, got ${err.name}: ${err.message}; error=${err.error}; callback ${r.callback}`);
});

await step('unsupported_response_type is redirected with state (RFC 6749 §4.1.2.1)', ['config'], async () => {
  const st = client.randomState();
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(state.config, {
    redirect_uri: redirectUri, scope, state: st, nonce: client.randomNonce(), response_type: 'token',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const r = await member.go(url);
  check(r.callback, `response_type=token showed a page at ${r.at} instead of redirecting: ${r.page?.slice(0, 200)}`);
  const err = await expectThrow('the code exchange after response_type=token', () =>
    client.authorizationCodeGrant(state.config, r.callback, { pkceCodeVerifier: verifier, expectedState: st }));
  check(err instanceof client.AuthorizationResponseError && err.error === 'unsupported_response_type',
    `want an AuthorizationResponseError with error=unsupported_response_type, got ${err.name}: ${err.message}; error=${err.error}; callback ${r.callback}`);
});

await step('refresh (rotation)', ['tokens'], async () => {
  const old = state.tokens;
  const t = await client.refreshTokenGrant(state.config, old.refresh_token);
  state.refreshed = t;
  lastTokenResponseNoStore('refresh');
  check(t.access_token && t.access_token !== old.access_token, 'no new access token');
  check(t.refresh_token && t.refresh_token !== old.refresh_token, 'the refresh token was not rotated');
  check(t.token_type?.toLowerCase() === 'bearer', `token_type ${t.token_type}`);
  const c = t.claims();
  if (c) check(c.sub === state.sub, `refreshed ID token sub ${c.sub}, want ${state.sub} (OpenID Connect Core §12.2)`);
  const res = await graphMe(t.access_token);
  check(res.status === 200, `GET /graph/v1/me with the refreshed token: HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return `scope "${t.scope}"${c ? ', with an ID token' : ''}`;
});

await step('replay of the old refresh token (invalid_grant)', ['refreshed'], async () => {
  const err = await expectThrow('replaying the spent refresh token', () => client.refreshTokenGrant(state.config, state.tokens.refresh_token));
  await expectOAuthError('replay', err, 'invalid_grant', 400);
  state.replayed = true;
  return err.error_description ?? '';
});

await step('the replay revoked the family: introspection of the rotated access token (inactive)', ['replayed'], async () => {
  const r = await client.tokenIntrospection(state.config, state.refreshed.access_token);
  check(r.active === false, `active ${r.active}: ${safeJSON(r)}`);
  check(Object.keys(r).length === 1, `an inactive token's introspection says more than active: ${safeJSON(r)} (RFC 7662 §2.2)`);
});

await step('the replay revoked the family: the rotated refresh token is refused (invalid_grant)', ['replayed'], async () => {
  const err = await expectThrow('refreshing with the rotated refresh token after the replay', () => client.refreshTokenGrant(state.config, state.refreshed.refresh_token));
  await expectOAuthError('rotated refresh token', err, 'invalid_grant', 400);
});

await step('the replay revoked the family: userinfo refuses the access token (401, WWW-Authenticate)', ['replayed'], async () => {
  await refusedBearer('userinfo', () => client.fetchUserInfo(state.config, state.refreshed.access_token, state.sub));
});

await step('the replay revoked the family: the Graph API refuses the access token (401, WWW-Authenticate)', ['replayed'], async () => {
  await refusedBearer('GET /graph/v1/me', () => graphMe(state.refreshed.access_token));
});

await step('a new authorization for revocation (signed in: consent only)', ['config'], async () => {
  await authorization(member, {}, (t) => (state.fresh = t));
});

await step('revocation of the access token (RFC 7009), then introspection (inactive) and the Graph API (401)', ['fresh'], async () => {
  await client.tokenRevocation(state.config, state.fresh.access_token, { token_type_hint: 'access_token' });
  const r = await client.tokenIntrospection(state.config, state.fresh.access_token);
  check(r.active === false, `introspection after revocation: ${safeJSON(r)}`);
  await refusedBearer('GET /graph/v1/me after revocation', () => graphMe(state.fresh.access_token));
});

await step('revocation of the refresh token (RFC 7009), then refresh (invalid_grant) and introspection (inactive)', ['fresh'], async () => {
  await client.tokenRevocation(state.config, state.fresh.refresh_token, { token_type_hint: 'refresh_token' });
  const err = await expectThrow('refreshing with a revoked refresh token', () => client.refreshTokenGrant(state.config, state.fresh.refresh_token));
  await expectOAuthError('revoked refresh token', err, 'invalid_grant', 400);
  const r = await client.tokenIntrospection(state.config, state.fresh.refresh_token);
  check(r.active === false, `introspection after revocation: ${safeJSON(r)}`);
});

await step('revocation of an unknown token answers 200 (RFC 7009 §2.2)', ['config'], async () => {
  await client.tokenRevocation(state.config, 'not-a-token-' + client.randomState());
});

await step('introspection of an unknown token (inactive)', ['config'], async () => {
  const r = await client.tokenIntrospection(state.config, 'not-a-token-' + client.randomState());
  check(r.active === false, `active ${r.active}: ${safeJSON(r)}`);
});

await step('a wrong client secret is refused with 401, WWW-Authenticate: Basic and JSON invalid_client (token, introspection, revocation)', ['config', 'tokens'], async () => {
  const m = state.config.serverMetadata();
  const bad = new client.Configuration(m, clientId, { client_secret: 'wrong' }, client.ClientSecretBasic('wrong'));
  client.allowInsecureRequests(bad);
  bad[client.customFetch] = recordingFetch;
  const problems = [];
  for (const [what, fn] of [
    ['token endpoint', () => client.refreshTokenGrant(bad, state.tokens.refresh_token)],
    ['introspection endpoint', () => client.tokenIntrospection(bad, state.tokens.access_token)],
    ['revocation endpoint', () => client.tokenRevocation(bad, state.tokens.access_token)],
  ]) {
    try {
      await badClientSecret(what, fn);
    } catch (err) {
      problems.push(await describe(err));
    }
  }
  check(problems.length === 0, problems.join(' | '));
});

const failed = results.filter((r) => r.status === 'fail').length;
const skipped = results.filter((r) => r.status === 'skip').length;
if (failed || skipped) {
  console.log(`openid-client conformance: ${failed} of ${results.length} steps failed, ${skipped} skipped`);
  process.exit(1);
}
console.log(`openid-client conformance: all ${results.length} steps passed`);
