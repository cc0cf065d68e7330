package interop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// fakeWeb answers, over HTTPS on loopback, as the identity providers' real
// hosts do: its certificate names them (signed by a root only its client
// trusts), and its client dials it whatever host a URL names. So discovery
// documents, jwks_uri values and key URLs are exactly the documented ones,
// and the library's real HTTPS fetch runs against them.
type fakeWeb struct {
	srv    *httptest.Server
	client *http.Client
	mu     sync.Mutex
	docs   map[string][]byte // "host/path" → body
}

// The provider host names the certificate covers.
var fakeHosts = []string{
	"*.auth0.com", "*.eu.auth0.com", "*.okta.com", "login.microsoftonline.com", "sts.windows.net", "*.b2clogin.com",
	"keycloak.example.com", "cognito-idp.eu-west-1.amazonaws.com", "accounts.google.com", "www.googleapis.com",
	"cloud.google.com", "www.gstatic.com", "securetoken.google.com", "token.actions.githubusercontent.com",
	"oidc.eks.eu-west-1.amazonaws.com", "*.projects.oryapis.com", "*.zitadel.cloud", "*.cloudflareaccess.com",
	"demo.duendesoftware.com", "auth.example.com",
}

func newFakeWeb(t *testing.T) *fakeWeb {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "interop test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "providers"}, DNSNames: fakeHosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWeb{docs: map[string][]byte{}}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(w.serve))
	w.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	addr := w.srv.Listener.Addr().String()
	var d net.Dialer
	w.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
	t.Cleanup(w.client.CloseIdleConnections)
	return w
}

// put serves v (JSON) at the https URL u.
func (w *fakeWeb) put(t *testing.T, u string, v any) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" {
		t.Fatalf("bad fake URL %q", u)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.docs[p.Host+p.EscapedPath()] = b
}

func (w *fakeWeb) serve(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	b, ok := w.docs[r.Host+r.URL.EscapedPath()]
	w.mu.Unlock()
	if !ok {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(b)
}

// providerKeys are one provider's keys: a signing key, published as
// providers publish theirs (with x5t and an x5c certificate chain), beside
// an encryption key the verifier must skip.
type providerKeys struct {
	kid  string
	alg  string
	priv any            // *rsa.PrivateKey or *ecdsa.PrivateKey
	sig  map[string]any // the signing key's JWK, one of jwks' keys
	jwks map[string]any
}

func newProviderKeys(t *testing.T, alg string) *providerKeys {
	t.Helper()
	k := newSigningKey(t, alg, "key-"+alg)
	encKey := testkeys.RSA()
	var enc map[string]any
	if err := json.Unmarshal(jwkstest.PublicJWK(&encKey.PublicKey, "enc-1", map[string]any{"use": "enc", "alg": "RSA-OAEP"}), &enc); err != nil {
		t.Fatal(err)
	}
	k.jwks = map[string]any{"keys": []any{enc, k.sig}}
	return k
}

// addKey publishes, in k's key set, another signing key of k's algorithm
// under kid, with members added to its JWK, and returns it (its jwks is
// k's).
func (k *providerKeys) addKey(t *testing.T, kid string, members map[string]any) *providerKeys {
	t.Helper()
	other := newSigningKey(t, k.alg, kid)
	maps.Copy(other.sig, members)
	k.jwks["keys"] = append(k.jwks["keys"].([]any), other.sig)
	other.jwks = k.jwks
	return other
}

// newSigningKey is a signing key of alg and its JWK under kid, published
// as providers publish theirs; its jwks is not set.
func newSigningKey(t *testing.T, alg, kid string) *providerKeys {
	t.Helper()
	k := &providerKeys{kid: kid, alg: alg}
	var pub any
	switch alg {
	case "RS256":
		rk := testkeys.RSA()
		k.priv, pub = rk, &rk.PublicKey
	case "ES256":
		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k.priv, pub = ek, &ek.PublicKey
	default:
		t.Fatalf("alg %s", alg)
	}
	// A self-signed certificate for the key, as Entra ID and Keycloak
	// publish in x5c; the verifier must neither need nor trust it.
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: k.kid},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	var sig map[string]any
	if err := json.Unmarshal(jwkstest.PublicJWK(pub, k.kid, map[string]any{"use": "sig", "alg": alg}), &sig); err != nil {
		t.Fatal(err)
	}
	sig["x5c"] = []string{base64.StdEncoding.EncodeToString(der)}
	thumb := sha1.Sum(der) // x5t is the certificate's SHA-1 thumbprint (RFC 7517 §4.8)
	sig["x5t"] = base64.RawURLEncoding.EncodeToString(thumb[:])
	k.sig = sig
	return k
}

// sign signs payload with the key, header members added to alg, kid and
// typ (typ nil to leave it out).
func (k *providerKeys) sign(t *testing.T, typ any, payload map[string]any) string {
	t.Helper()
	method := jwt.GetSigningMethod(k.alg)
	tok := jwt.NewWithClaims(method, jwt.MapClaims(payload))
	tok.Header["kid"] = k.kid
	if typ == nil {
		delete(tok.Header, "typ")
	} else {
		tok.Header["typ"] = typ
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
