package mcpguard

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/jwtguard/jwtguard/internal/jsonscan"
)

// headersChecked is the first protocol version whose Mcp-Method and
// Mcp-Name headers the SDK checks against the body (refusing a mismatch
// with 400 before any handler runs), so they can be trusted instead of
// reading the body. Versions are dates: they compare as strings, as the
// SDK compares them.
const headersChecked = "2026-07-28"

// named are the methods whose operation has a name, and its member in
// params.
var named = map[string]string{
	"tools/call": "name", "prompts/get": "name", "resources/read": "uri",
	"resources/subscribe": "uri", "resources/unsubscribe": "uri",
}

// nameChecked are the methods whose Mcp-Name the SDK checks against the
// body; another named method's name is read from the body.
var nameChecked = map[string]bool{"tools/call": true, "prompts/get": true, "resources/read": true}

// operations returns the operations of a POST, leaving its body for the
// SDK to read again; or the status and error to refuse it with.
func (m *Middleware) operations(r *http.Request) ([]operation, int, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, 0, nil
	}
	if method := r.Header.Get("Mcp-Method"); r.Header.Get("Mcp-Protocol-Version") >= headersChecked &&
		(nameChecked[method] || (method != "" && named[method] == "")) {
		// A batch is not allowed in these versions (the SDK refuses it),
		// so the body's first byte is all the headers need to stand for
		// it.
		first, err := m.peek(r)
		if err != nil {
			if errors.Is(err, ErrBodyTooLarge) {
				return nil, http.StatusRequestEntityTooLarge, err
			}
			return nil, http.StatusBadRequest, ErrUnreadableMessage
		}
		if first == '{' {
			return []operation{{method, r.Header.Get("Mcp-Name")}}, 0, nil
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.maxBody+1))
	if err != nil {
		return nil, http.StatusBadRequest, ErrUnreadableMessage
	}
	if int64(len(body)) > m.maxBody {
		return nil, http.StatusRequestEntityTooLarge, ErrBodyTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ops, ok := parse(body)
	if !ok {
		return nil, http.StatusBadRequest, ErrUnreadableMessage
	}
	return ops, 0, nil
}

// peek returns the body's first byte that is not white space, and puts
// what it read back in front of the rest. It looks at each byte once, and
// no further than the body limit.
func (m *Middleware) peek(r *http.Request) (byte, error) {
	var buf []byte
	chunk := make([]byte, 512)
	for {
		n, err := r.Body.Read(chunk)
		from := len(buf)
		buf = append(buf, chunk[:n]...)
		if i := jsonscan.SkipWS(buf, from); i < len(buf) {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
			return buf[i], nil
		}
		if int64(len(buf)) > m.maxBody {
			return 0, ErrBodyTooLarge
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
}

// parse reads the operations of a JSON-RPC message or batch. It reads
// members as the SDK does (names case-sensitive, escapes decoded) and
// refuses what two parsers could read differently: invalid JSON, a
// repeated member name, a method or name that is not a string.
func parse(body []byte) ([]operation, bool) {
	if !jsonscan.Valid(body) {
		return nil, false
	}
	i := jsonscan.SkipWS(body, 0)
	if body[i] != '[' {
		op, ok := parseMessage(body)
		if !ok {
			return nil, false
		}
		return []operation{op}, true
	}
	var ops []operation
	i = jsonscan.SkipWS(body, i+1)
	for i < len(body) && body[i] != ']' {
		end := jsonscan.SkipValue(body, i)
		op, ok := parseMessage(body[i:end])
		if !ok {
			return nil, false
		}
		ops = append(ops, op)
		i = jsonscan.SkipWS(body, end)
		if i < len(body) && body[i] == ',' {
			i = jsonscan.SkipWS(body, i+1)
		}
	}
	return ops, true
}

func parseMessage(msg []byte) (operation, bool) {
	var op operation
	var params []byte
	ok := true
	if !jsonscan.Members(msg, func(name, value []byte) bool {
		switch string(name) {
		case "method":
			op.method, ok = jsonscan.String(value)
		case "params":
			params = value
		}
		return ok
	}) || !ok {
		return operation{}, false
	}
	member, hasName := named[op.method]
	if !hasName || params == nil {
		return op, true
	}
	if jsonscan.SkipWS(params, 0) < len(params) && params[jsonscan.SkipWS(params, 0)] != '{' {
		return operation{}, false
	}
	if !jsonscan.Members(params, func(name, value []byte) bool {
		if string(name) == member {
			op.name, ok = jsonscan.String(value)
		}
		return ok
	}) || !ok {
		return operation{}, false
	}
	return op, true
}
