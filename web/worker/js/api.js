// The API and Cognito over fetch. A session is either a Cognito sign-in (the ID token is the
// bearer; refreshed with the refresh token when it expires) or a worker API key.
let config = null;
const SESSION = "foule.session";

export class NetworkError extends Error {}
export class ApiError extends Error {
  constructor(status, body) {
    // Foule says {"error": {code, message}}; Cognito says {"__type", "message"}.
    const error = (body && body.error) || { code: body && body.__type, message: body && (body.message || body.Message) };
    super(error.message || `HTTP ${status}`);
    Object.assign(this, { status, code: error.code || String(status), details: error.details });
  }
}

export async function loadConfig() {
  config = await (await fetch("config.json", { cache: "no-cache" })).json();
  return config;
}

export const session = () => JSON.parse(localStorage.getItem(SESSION) || "null");
export const saveSession = (value) => localStorage.setItem(SESSION, JSON.stringify(value));
export const signOut = () => localStorage.removeItem(SESSION);

// Whose session this is, to keep each worker's offline data apart on a shared phone
// (js/outbox.js): the ID token's `sub` (the worker id derives from it), or a digest of the
// worker key (never the key itself). null when no one is signed in.
export async function owner() {
  const current = session();
  if (!current) return null;
  if (current.kind === "cognito") {
    const claims = JSON.parse(atob(current.idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return `sub:${claims.sub}`;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(current.key)));
  return `key:${Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new NetworkError("network");
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// --- Cognito's JSON API (the user pool's app client has no secret) -----------------------
function cognito(action, body) {
  return send(config.cognito.endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}` },
    body: JSON.stringify({ ClientId: config.cognito.client_id, ...body }),
  });
}

export const signUp = (email, password) => cognito("SignUp", {
  Username: email, Password: password, UserAttributes: [{ Name: "email", Value: email }] });

export const confirmSignUp = (email, code) => cognito("ConfirmSignUp", { Username: email, ConfirmationCode: code });

function keepTokens(result, email, refreshToken) {
  const auth = result.AuthenticationResult;
  saveSession({ kind: "cognito", email, idToken: auth.IdToken,
                refreshToken: auth.RefreshToken || refreshToken,
                expiresAt: Date.now() + (auth.ExpiresIn - 60) * 1000 });
}

export async function signIn(email, password) {
  keepTokens(await cognito("InitiateAuth", { AuthFlow: "USER_PASSWORD_AUTH",
                                             AuthParameters: { USERNAME: email, PASSWORD: password } }), email);
}

async function bearer() {
  const current = session();
  if (!current) return null;
  if (current.kind === "key") return current.key;
  if (Date.now() > current.expiresAt && navigator.onLine) {
    keepTokens(await cognito("InitiateAuth", { AuthFlow: "REFRESH_TOKEN_AUTH",
                                               AuthParameters: { REFRESH_TOKEN: current.refreshToken } }),
               current.email, current.refreshToken);
  }
  return session().idToken;
}

// --- Foule's API ----------------------------------------------------------------------------
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${await bearer()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await send(config.api_url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      location.hash = "#/signin";
    }
    throw error;
  }
}
