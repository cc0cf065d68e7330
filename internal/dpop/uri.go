package dpop

import (
	"errors"
	"net/url"
	"strings"
)

// NormalizeURI returns u as a proof's htu is compared (RFC 9449 §4.3 step
// 9): the query and the fragment dropped (clients in the wild put the
// query in htu, and RFC 9449 excludes both), then the normalisations of
// RFC 3986 §6.2.2–6.2.3: scheme and host in lower case, the default port
// removed, percent-encodings in upper case and those of unreserved
// characters decoded, dot segments removed, an empty path made "/". It
// fails for anything but an absolute http or https URL with a host.
func NormalizeURI(u string) (string, error) { return normalize(u, true) }

// normalize is NormalizeURI, removing dot segments or not. The request's
// own URL keeps them: a router that does not clean paths routes
// /admin/../api/me under /admin/, so a proof made for /api/me must not
// pass there.
func normalize(u string, dots bool) (string, error) {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(p.Scheme)
	if scheme != "http" && scheme != "https" || p.Host == "" || p.User != nil || p.Opaque != "" {
		return "", errors.New("dpop: not an absolute http(s) URL")
	}
	host := strings.ToLower(p.Hostname())
	if strings.Contains(host, ":") { // an IPv6 literal keeps its brackets
		host = "[" + host + "]"
	}
	if port := p.Port(); port != "" && !(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		host += ":" + port
	}
	path, ok := normalizePercents(p.EscapedPath())
	if !ok {
		return "", errors.New("dpop: bad percent-encoding")
	}
	if dots {
		path = removeDotSegments(path)
	}
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// sameURI reports whether htu names the request URL u, as Check compares
// them: equal once the query and fragment are dropped (the usual case,
// with nothing to normalise), or equal after NormalizeURI, dot segments
// removed from htu only (see normalize).
func sameURI(htu, u string) bool {
	if stripQuery(htu) == stripQuery(u) && plainURI(u) {
		return true
	}
	want, err := normalize(u, false)
	if err != nil {
		return false
	}
	// htu names the request's path with its dot segments as sent, or
	// resolved as RFC 3986 resolves them.
	got, err := normalize(htu, false)
	if err == nil && got == want {
		return true
	}
	got, err = normalize(htu, true)
	return err == nil && got == want
}

func stripQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// plainURI reports whether u is already in normal form as far as a byte
// comparison can tell: a lower-case http or https scheme, then a host and
// path with no upper-case letter, percent sign, dot segment or empty path.
// Anything else takes the slow path through NormalizeURI.
func plainURI(u string) bool {
	u = stripQuery(u)
	var rest string
	switch {
	case strings.HasPrefix(u, "https://"):
		rest = u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		rest = u[len("http://"):]
	default:
		return false
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return false // no host, or no path
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c >= 'A' && c <= 'Z' || c == '%' || c == '@' || c == '\\' {
			return false
		}
	}
	host := rest[:slash]
	if strings.HasSuffix(host, ":80") || strings.HasSuffix(host, ":443") || strings.HasSuffix(host, ":") {
		return false
	}
	path := rest[slash:]
	return !strings.Contains(path, "/./") && !strings.Contains(path, "/../") && !strings.HasSuffix(path, "/.") && !strings.HasSuffix(path, "/..") && !strings.Contains(path, "//")
}

// normalizePercents upper-cases percent-encodings and decodes those of
// unreserved characters (RFC 3986 §6.2.2.1–6.2.2.2).
func normalizePercents(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", false
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if unreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(s[i+1 : i+3]))
		}
		i += 2
	}
	return b.String(), true
}

// removeDotSegments is RFC 3986 §5.2.4.
func removeDotSegments(path string) string {
	var out []string
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		switch seg {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return strings.Join(out, "/")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
