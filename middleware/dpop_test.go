package middleware_test

// dpopChallenge is the bare DPoP challenge a Guard with the default
// policy (DPoPAllowed) sends after the Bearer one on every 401 and 403.
const dpopChallenge = `DPoP realm="api", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"`

// dpopAlgsMember is the metadata member that says which proof algorithms
// are accepted.
const dpopAlgsMember = `"dpop_signing_alg_values_supported":["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA"]`
